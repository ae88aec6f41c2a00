"""TLS certificates and SuperNode keys: valid for TLS and for Flower's key checks."""

from __future__ import annotations

import ipaddress
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from networkfed.core.errors import ConfigError
from networkfed.flower.certs import make_certificates


def test_server_certificate_is_signed_by_the_ca_for_every_host(tmp_path):
    # Prepare / Execute
    made = make_certificates(tmp_path, hosts=("127.0.0.1", "superlink.plant.test"))
    ca = x509.load_pem_x509_certificate(made.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(made.server_cert.read_bytes())
    # Assert
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["superlink.plant.test"]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE(made.server_key.stat().st_mode) == 0o600


def test_site_keys_are_openssh_p384_pairs_that_match(tmp_path):
    # Prepare / Execute
    made = make_certificates(tmp_path, site_ids=["plant_a", "plant_b"])
    private_path, public_path = made.node_keys["plant_a"]
    private = serialization.load_ssh_private_key(private_path.read_bytes(), None)
    public = serialization.load_ssh_public_key(public_path.read_bytes())
    # Assert: what flower-supernode and `flwr supernode register` load
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert isinstance(private.curve, ec.SECP384R1)
    assert private.public_key().public_numbers() == public.public_numbers()
    other = serialization.load_ssh_public_key(made.node_keys["plant_b"][1].read_bytes())
    assert other.public_numbers() != public.public_numbers()
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600


@pytest.mark.parametrize("bad", [{"hosts": ()}, {"valid_days": 0}, {"site_ids": ["../x"]}])
def test_bad_settings_are_refused_with_a_config_error(tmp_path, bad):
    with pytest.raises(ConfigError):
        make_certificates(tmp_path, **bad)
