# nann on the official Flink image, for the Flink Kubernetes Operator (k8s/).
#
#   docker build -t ghcr.io/nann-dev/nann:0.1.0 .
#
# One image serves both jobs: the job jar in /opt/flink/usrlib, ONNX Runtime with the CUDA
# execution provider in /opt/flink/lib (loaded once per TaskManager, parent-first), and the CUDA 12 +
# cuDNN 9 runtime libraries it needs. On a node without a GPU, scorer.provider=auto scores on the CPU
# with the same jar; index-sync never scores.

ARG FLINK_IMAGE=flink:2.2.1-java17
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04

# --- build the job jar (ORT left out of it: the gpu profile's ORT goes to lib/) ---
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml ./
COPY schemas schemas
COPY client/pom.xml client/pom.xml
COPY core core
COPY operators operators
COPY index-sync index-sync
COPY flink-jobs flink-jobs
# the reactor lists flink-cluster and tools too; Maven reads every module's pom, even for -pl flink-jobs
COPY flink-cluster/pom.xml flink-cluster/pom.xml
COPY tools/pom.xml tools/pom.xml
RUN mvn -B -ntp -Pjob-jar,gpu -DskipTests package -pl flink-jobs -am \
 && mvn -B -ntp dependency:copy -Dartifact=com.microsoft.onnxruntime:onnxruntime_gpu:1.29.0 -DoutputDirectory=/out/lib

# --- CUDA runtime, cuBLAS, cuFFT, cuRAND and cuDNN from NVIDIA's image (Ubuntu 22.04 libraries; Flink's image is
# Ubuntu 24.04, whose newer glibc runs them) ---
FROM ${CUDA_IMAGE} AS cuda

FROM ${FLINK_IMAGE}
COPY --from=cuda /usr/local/cuda/targets/x86_64-linux/lib/ /usr/local/cuda/lib64/
COPY --from=cuda /usr/lib/x86_64-linux-gnu/libcudnn* /usr/lib/x86_64-linux-gnu/
ENV LD_LIBRARY_PATH=/usr/local/cuda/lib64 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
COPY --from=build --chown=flink:flink /out/lib/onnxruntime_gpu-1.29.0.jar /opt/flink/lib/
COPY --from=build --chown=flink:flink /src/flink-jobs/target/nann-job.jar /opt/flink/usrlib/nann-job.jar
USER flink
