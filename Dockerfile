# The optio worker. Built by docker-compose.yml; configure it with the
# environment variables in the README (TEMPORAL_ADDRESS, MONGO_URL, REDIS_URL, ...).
# Without them it starts dev mode inside the container, with data in
# /home/nonroot/.optio-dev.

# go.mod asks for Go 1.26.8; the build image must have at least that.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The SQLite drivers of the embedded servers are pure Go, so the binary is static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/worker ./cmd/worker

# The benchmark (bench/README.md), for the compose file's "bench" profile:
#   docker compose --profile bench run --rm bench -only growth
# Only built when asked for (--target bench, or that profile).
FROM build AS bench-build
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/bench ./bench

FROM gcr.io/distroless/static-debian12:nonroot AS bench
WORKDIR /home/nonroot
COPY --from=bench-build /out/bench /usr/local/bin/bench
ENTRYPOINT ["/usr/local/bin/bench"]

# The worker: the default target, so it stays the last stage.
FROM gcr.io/distroless/static-debian12:nonroot AS worker
WORKDIR /home/nonroot
COPY --from=build /out/worker /usr/local/bin/worker
ENTRYPOINT ["/usr/local/bin/worker"]
