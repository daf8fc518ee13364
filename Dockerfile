# Pattern Real-Time: the demo instance in a container.
#   docker build -t pattern-rt .
#   docker run --rm -p 8080:8080 pattern-rt
FROM debian:bookworm

WORKDIR /src
COPY . .

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && scripts/install-deps \
    && make -j"$(nproc)" \
    && rm -rf /var/lib/apt/lists/*

ENV LISTEN=0.0.0.0
EXPOSE 8080

# the demo replays a generated day, then the instance keeps serving
CMD ["sh", "-c", "make demo PORT=8080 && tail -F var/8080/logs/engine.log"]
