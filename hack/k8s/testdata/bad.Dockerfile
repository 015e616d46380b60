# Breaks every rule of the Dockerfile lint on purpose.
ARG BASE=golang:latest
FROM ${BASE} AS build
RUN curl -fsSL https://example.org/install.sh | sh
FROM debian
RUN apt-get update && apt-get install -y qemu-system-x86
ADD https://example.org/tool.tar.gz /opt/
COPY --from=build /x /x
USER root
ENTRYPOINT /usr/local/bin/agent
