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

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /home/nonroot
COPY --from=build /out/worker /usr/local/bin/worker
ENTRYPOINT ["/usr/local/bin/worker"]
