"""Run inside an environment with the SageMaker Python SDK (sagemaker<3): its serializers make the
requests, its deserializers read the answers. Prints one JSON object: per case, the clusters and
distances it read. Usage: python sdk_client.py PORT
"""

import io
import json
import sys
import urllib.request

import numpy as np
from sagemaker.amazon.common import RecordDeserializer, RecordSerializer
from sagemaker.deserializers import CSVDeserializer, JSONDeserializer, JSONLinesDeserializer
from sagemaker.serializers import CSVSerializer, JSONSerializer

ROWS = [[1.0, 2.0, 3.0], [5.0, 5.0, 5.0], [9.0, 10.0, 11.0]]


def post(port, body, content_type, accept):
    data = body.read() if hasattr(body, "read") else body
    if isinstance(data, str):
        data = data.encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=data, method="POST",
                                     headers={"Content-Type": content_type, "Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read(), response.headers["Content-Type"]


def main():
    port = int(sys.argv[1])
    requests = {
        "csv": (CSVSerializer(), np.array(ROWS)),
        "json": (JSONSerializer(), np.array(ROWS)),
        "record-float32": (RecordSerializer(), np.array(ROWS, dtype=np.float32)),
        "record-float64": (RecordSerializer(), np.array(ROWS, dtype=np.float64)),
        "record-int": (RecordSerializer(), np.array(ROWS).astype(int)),
        "record-1d": (RecordSerializer(), np.array(ROWS[0], dtype=np.float32)),
    }
    answers = {
        "application/json": (JSONDeserializer(), lambda d: [(p["closest_cluster"], p["distance_to_cluster"])
                                                            for p in d["predictions"]]),
        "application/jsonlines": (JSONLinesDeserializer(), lambda d: [(p["closest_cluster"],
                                                                       p["distance_to_cluster"]) for p in d]),
        "text/csv": (CSVDeserializer(), lambda d: [(float(a), float(b)) for a, b in d]),
        "application/x-recordio-protobuf": (RecordDeserializer(), lambda d: [
            (r.label["closest_cluster"].float32_tensor.values[0],
             r.label["distance_to_cluster"].float32_tensor.values[0]) for r in d]),
    }
    out = {}
    for name, (serializer, array) in requests.items():
        body = serializer.serialize(array)
        for accept, (deserializer, read) in answers.items():
            content, content_type = post(port, body if not hasattr(body, "getvalue") else body.getvalue(),
                                         serializer.CONTENT_TYPE, accept)
            out[f"{name} -> {accept}"] = read(deserializer.deserialize(io.BytesIO(content), content_type))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
