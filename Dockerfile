# SageMaker's k-means container, built from the wheel: `make wheel && docker build -t fastkmeans-sagemaker .`
#
# SageMaker runs `docker run IMAGE train` for a training job and `docker run IMAGE serve` for an
# endpoint; the entry point turns those into `fastkmeans sagemaker train` (reads /opt/ml/input,
# writes /opt/ml/model/model.tar.gz or /opt/ml/output/failure) and `fastkmeans sagemaker serve`
# (serves /opt/ml/model on port 8080, or SAGEMAKER_BIND_TO_PORT). tests/test_container.py runs this
# ENTRYPOINT, as written here, without Docker.
FROM python:3.12-slim

COPY dist/fastkmeans_sagemaker-*.whl /tmp/wheels/
RUN python -m pip install --no-cache-dir --no-compile \
        "$(ls /tmp/wheels/fastkmeans_sagemaker-*.whl)[serve,io]" \
    && rm -rf /tmp/wheels \
    && fastkmeans --version

# SageMaker sends SIGTERM to stop an endpoint; exec form, so it reaches the server directly.
ENV PYTHONUNBUFFERED=1
EXPOSE 8080
ENTRYPOINT ["fastkmeans", "sagemaker"]
CMD ["serve"]
