#include <stdio.h>
#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/Index_c.h>
int main(void) {
    FaissIndexFlatL2 *idx; float v[4] = {1,2,3,4}; float d; idx_t l;
    if (faiss_IndexFlatL2_new_with(&idx, 4)) return 1;
    faiss_Index_add(idx, 1, v);
    faiss_Index_search(idx, 1, v, 1, &d, &l);
    printf("%g %ld\n", d, (long) l);
    return 0;
}
