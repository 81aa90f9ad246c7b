"""Bulk disbursements: pay thousands of people from the list an accounting department exports.

This package reads and checks bulk payment files (:mod:`.parsing`, :mod:`.validation`), writes results for
spreadsheets (:mod:`.exports`) and holds the batch and line tables (:mod:`.models`). The formats and every
validation code are described in ``docs/bulk-files.md``.
"""

from cauri.disbursements.ingest.messages import Issue, IssueCode, Severity
from cauri.disbursements.parsing import BulkFileError, Container, FileFormat
from cauri.disbursements.validation import (
    BulkValidation,
    KnownTransferIds,
    ValidatedChunk,
    ValidationOptions,
    ValidationReport,
    ValidLine,
    collect,
    generated_transfer_id,
    validate_bulk_file,
)

__all__ = [
    "BulkFileError",
    "BulkValidation",
    "Container",
    "FileFormat",
    "Issue",
    "IssueCode",
    "KnownTransferIds",
    "Severity",
    "ValidLine",
    "ValidatedChunk",
    "ValidationOptions",
    "ValidationReport",
    "collect",
    "generated_transfer_id",
    "validate_bulk_file",
]
