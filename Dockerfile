# syntax=docker/dockerfile:1
# A small static image: filehub alone on distroless, running as non-root,
# serving the volume /srv. Build: docker build -t filehub .
# Run:   docker run --rm -p 8080:8080 -v "$PWD:/srv:ro" filehub
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
EXPOSE 8080
USER nonroot:nonroot
# Listen on every interface inside the container; publish the port to choose who reaches it.
ENTRYPOINT ["/usr/local/bin/filehub", "-addr", ":8080", "-root", "/srv"]
