# Image of textgen-server with its embedded model, plus textgen-client for the
# health check.
#
#   docker build -t textgen:dev .
#   docker run -p 50051:50051 -p 9464:9464 textgen:dev
#
# The engine is compiled with -march=x86-64-v3 (AVX2 and FMA) by default and
# stops with "Illegal instruction" on older CPUs. For those, build with
# --build-arg TEXTGEN_MARCH= (no -march) or another -march value.
# scripts/docker-check.sh builds this file with podman and smoke-tests the image.

FROM debian:bookworm-slim AS build

# The packages are installed before the sources are copied, so that a change
# of the sources reuses this layer.
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN bash /src/scripts/install-deps.sh build && rm -rf /var/lib/apt/lists/*

COPY . /src
ARG TEXTGEN_MARCH=x86-64-v3
# Parallel jobs of the build; empty leaves the choice to Ninja.
ARG CMAKE_BUILD_PARALLEL_LEVEL
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DTEXTGEN_BUILD_TESTS=OFF -DTEXTGEN_BUILD_BENCHMARKS=OFF \
      "-DTEXTGEN_MARCH=${TEXTGEN_MARCH}" \
 && cmake --build /build --target textgen-server textgen-client


FROM debian:bookworm-slim

COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh runtime \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh

# A numeric USER lets Kubernetes verify runAsNonRoot without reading
# /etc/passwd.
RUN groupadd --gid 10001 textgen \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin textgen

# The default model is compiled into textgen-server, so no model file is copied.
COPY --from=build /build/server/textgen-server /build/client/textgen-client /usr/local/bin/

USER 10001:10001

# gRPC, and the Prometheus metrics endpoint.
EXPOSE 50051 9464

# The check calls the address of the default CMD: a container that listens on
# another port needs its own HEALTHCHECK. Podman keeps HEALTHCHECK only in
# images built with --format docker.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["textgen-client", "--addr", "127.0.0.1:50051", "--timeout", "3", "health"]

# SIGTERM drains the server for --drain-timeout seconds (20 by default), longer
# than the 10 s that `docker stop` waits by default: stop with -t 30.
STOPSIGNAL SIGTERM
ENTRYPOINT ["textgen-server"]
CMD ["--listen", "0.0.0.0:50051"]
