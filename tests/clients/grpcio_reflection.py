"""An outside integrator's view: Python's grpcio-reflection client (it speaks only the v1alpha
reflection protocol) lists the router's services and resolves a method's request type.

Run by tests/clients/run.sh against a real `hotline serve`.
"""

import sys

import grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from google.protobuf.descriptor_pool import DescriptorPool


def main(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        expected = {
            "hotline.v1.Intake",
            "hotline.v1.Station",
            "hotline.v1.Supervision",
            "hotline.v1.Directory",
            "grpc.health.v1.Health",
        }
        missing = expected - services
        if missing:
            print(f"grpcio-reflection: missing {sorted(missing)} in {sorted(services)}")
            return 1
        pool = DescriptorPool(database)
        method = pool.FindMethodByName("hotline.v1.Intake.SubmitTicket")
        if method.input_type.full_name != "hotline.v1.SubmitTicketRequest":
            print(f"grpcio-reflection: SubmitTicket takes {method.input_type.full_name}")
            return 1
        print(f"grpcio-reflection: {len(services)} services listed, SubmitTicket resolved")
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
