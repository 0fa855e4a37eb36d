# The PyPI `open311` 1.1 client (Code for America's wrapper; Python 2 only), modelled on the
# Ruby open311 gem: service_list, service_definition, service_requests, get_service_request.
# Run by tests/clients/run.sh only where a Python 2.7 is on the machine.
#   python2.7 open311_py2.py BASE_URL
import sys

import open311


def main(base):
    client = open311.Open311(endpoint=base + "/", format="json")
    services = client.service_list()
    assert len(services) > 100, services
    definition = client.service_definition("SQ.WYBX")
    assert "attributes" in str(definition), definition
    requests = client.service_requests()
    print("open311 (Python 2): %d services, %d requests" % (len(services), len(requests)))


if __name__ == "__main__":
    main(sys.argv[1])
