/*
 * The engine's version: `pattern-rt-engine --version`, GET /health and
 * every index manifest (which engine built it) show it.
 */
#ifndef PRT_VERSION_H
#define PRT_VERSION_H

#define PRT_ENGINE_VERSION  "0.1.0"

#endif
