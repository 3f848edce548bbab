# syntax=docker/dockerfile:1
# A small static image: filehub alone on distroless, running as non-root,
# serving the volume /srv.
#
# Build: docker build -t filehub .
# Run:   docker run --rm -p 8080:8080 -v "$PWD:/srv:ro" filehub
#
# Settings: flags after the image name (docker run … filehub -upload), or
# FILEHUB_* variables (docker run -e FILEHUB_TOKEN=… …). The defaults below
# are variables, not fixed flags, so that -e FILEHUB_ADDR=:9000 works: a
# flag in ENTRYPOINT would silently win over it.
#
# Uploads: the server runs as the image's user nonroot (uid 65532), which
# cannot write a folder of yours on the host, so every upload would fail
# with 403 from the folder's permissions. Run it as yourself instead:
#   docker run --rm -p 8080:8080 --user "$(id -u):$(id -g)" -v "$PWD:/srv" filehub -upload
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: a static binary that needs no libc in the final image.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/filehub .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/filehub /usr/local/bin/filehub
VOLUME ["/srv"]
WORKDIR /srv
# Every interface inside the container (so the Host guard, which is for
# loopback listeners, is off); publish the port to choose who reaches it.
ENV FILEHUB_ADDR=:8080 FILEHUB_ROOT=/srv
EXPOSE 8080
USER nonroot:nonroot
# distroless has no shell and no curl: filehub checks itself. A path alone
# is asked of FILEHUB_ADDR's port, so it follows -e FILEHUB_ADDR=:9000 (not
# a -addr flag given after the image name: use the variable to move it).
HEALTHCHECK --interval=30s --timeout=10s --start-period=5s --retries=3 CMD ["/usr/local/bin/filehub", "-healthcheck", "/_/healthz"]
ENTRYPOINT ["/usr/local/bin/filehub"]
