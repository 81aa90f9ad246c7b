"""SOAP 1.1 envelopes for Moov's merchant API, with the standard library and ``defusedxml``.

Requests are built with :mod:`xml.etree.ElementTree` (JAX-WS style: the operation element in the service
namespace, its parameters unqualified). Answers are untrusted: :func:`parse` uses ``defusedxml`` (no DTD, no entity
expansion, no external resources) and turns anything malformed into :class:`MalformedXml`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SERVICE_NS = "http://api.merchant.tlc.com/"


class MalformedXml(ValueError):
    """Not a SOAP envelope we can read (malformed, or a forbidden DTD/entity construct)."""


@dataclass(frozen=True)
class SoapFault:
    code: str
    message: str


def _prefixes(namespace: str) -> None:
    """Readable prefixes (``soap:``, ``api:``); ElementTree keeps them process-wide, which is harmless here."""
    ET.register_namespace("soap", SOAP_ENV)
    ET.register_namespace("api", namespace)


def envelope(operation: str, params: Mapping[str, object], namespace: str = SERVICE_NS) -> bytes:
    _prefixes(namespace)
    root = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    ET.SubElement(root, f"{{{SOAP_ENV}}}Header")
    body = ET.SubElement(root, f"{{{SOAP_ENV}}}Body")
    call = ET.SubElement(body, f"{{{namespace}}}{operation}")
    for name, value in params.items():
        ET.SubElement(call, name).text = "" if value is None else str(value)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def response_envelope(operation: str, result: Mapping[str, object], namespace: str = SERVICE_NS) -> bytes:
    """``<ns2:{operation}Response><result>…</result></ns2:…>`` (what a JAX-WS service answers; the simulator's)."""
    _prefixes(namespace)
    root = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    body = ET.SubElement(root, f"{{{SOAP_ENV}}}Body")
    answer = ET.SubElement(body, f"{{{namespace}}}{operation}Response")
    holder = ET.SubElement(answer, "result")
    for name, value in result.items():
        ET.SubElement(holder, name).text = "" if value is None else str(value)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def fault_envelope(code: str, message: str) -> bytes:
    _prefixes(SERVICE_NS)
    root = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    body = ET.SubElement(root, f"{{{SOAP_ENV}}}Body")
    fault = ET.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    ET.SubElement(fault, "faultcode").text = code
    ET.SubElement(fault, "faultstring").text = message
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse(raw: bytes) -> ET.Element:
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedXml(type(exc).__name__) from None
    if _local(root.tag) != "Envelope" or not root.tag.startswith(f"{{{SOAP_ENV}}}"):
        raise MalformedXml("not a SOAP 1.1 envelope")
    return root


def body_of(root: ET.Element) -> ET.Element:
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if body is None or len(body) == 0:
        raise MalformedXml("empty SOAP body")
    return body[0]


def fault_of(raw: bytes) -> SoapFault | None:
    """The SOAP fault in an answer, if it is one (malformed answers raise :class:`MalformedXml`)."""
    first = body_of(parse(raw))
    if first.tag != f"{{{SOAP_ENV}}}Fault":
        return None
    return SoapFault(
        code=(first.findtext("faultcode") or "").strip(), message=(first.findtext("faultstring") or "").strip()
    )


def result_of(raw: bytes, operation: str) -> dict[str, str]:
    """The fields of ``<{operation}Response><result>`` (or of the response element itself) as text."""
    first = body_of(parse(raw))
    if first.tag == f"{{{SOAP_ENV}}}Fault":
        raise MalformedXml("a SOAP fault where a result was expected")
    if _local(first.tag) != f"{operation}Response":
        raise MalformedXml(f"expected {operation}Response, got {_local(first.tag)}")
    holder = first.find("result")
    if holder is None:
        holder = first.find("return")
    holder = holder if holder is not None else first
    return {_local(child.tag): (child.text or "").strip() for child in holder}


def call_of(raw: bytes) -> tuple[str, dict[str, str]]:
    """(operation, parameters) of a request envelope: what the simulator reads."""
    first = body_of(parse(raw))
    return _local(first.tag), {_local(child.tag): (child.text or "").strip() for child in first}
