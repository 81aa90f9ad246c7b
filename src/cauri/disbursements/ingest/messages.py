"""What a bulk file check can find: stable codes, with every message in French and English.

An :class:`Issue` is one finding, about the whole file (``line is None``) or about one cell of one line. Line
numbers are the ones a spreadsheet shows: the header is line 1. Codes are stable (clients and stored reports
rely on them); wording may improve.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from cauri.core.i18n import Language, pick


class Severity(StrEnum):
    ERROR = "error"  # the line (or the file) cannot be paid as is
    WARNING = "warning"  # the line is valid but flagged for review before approval


class IssueCode(StrEnum):
    # File-level: the file cannot be read as a payment list at all.
    EMPTY_FILE = "empty_file"
    UNSUPPORTED_FILE_TYPE = "unsupported_file_type"
    UNREADABLE_XLSX = "unreadable_xlsx"
    INVALID_ENCODING = "invalid_encoding"
    MIXED_ENCODING = "mixed_encoding"
    UNRECOGNISED_HEADER = "unrecognised_header"
    MISSING_COLUMNS = "missing_columns"
    UNKNOWN_COLUMNS = "unknown_columns"
    DUPLICATE_COLUMNS = "duplicate_columns"
    NO_LINES = "no_lines"
    TOO_MANY_LINES = "too_many_lines"
    # Line-level errors.
    LINE_TOO_LONG = "line_too_long"
    MALFORMED_LINE = "malformed_line"
    TOO_FEW_COLUMNS = "too_few_columns"
    TOO_MANY_COLUMNS = "too_many_columns"
    MISSING_VALUE = "missing_value"
    INVALID_TRANSFER_ID = "invalid_transfer_id"
    DUPLICATE_TRANSFER_ID = "duplicate_transfer_id"
    TRANSFER_ID_ALREADY_USED = "transfer_id_already_used"
    INVALID_AMOUNT = "invalid_amount"
    FRACTIONAL_AMOUNT = "fractional_amount"
    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    AMOUNT_TOO_LARGE = "amount_too_large"
    UNKNOWN_CURRENCY = "unknown_currency"
    UNSUPPORTED_CURRENCY = "unsupported_currency"
    CURRENCY_MISMATCH = "currency_mismatch"
    UNKNOWN_PARTY_ID_TYPE = "unknown_party_id_type"
    UNSUPPORTED_PARTY_ID_TYPE = "unsupported_party_id_type"
    INVALID_PHONE = "invalid_phone"
    INVALID_PARTY_IDENTIFIER = "invalid_party_identifier"
    INVALID_PAYEE_NAME = "invalid_payee_name"
    # Line-level warnings.
    DUPLICATE_PAYEE_AMOUNT = "duplicate_payee_amount"


_EXPECTED_FR = (
    "En-têtes attendus : « transferId, amount, currency, partyIdType, partyIdentifier » "
    "ou « type_id, valeur_id, devise, montant », avec une colonne « nom » facultative."
)
_EXPECTED_EN = (
    'Expected headers: "transferId, amount, currency, partyIdType, partyIdentifier" '
    'or "type_id, valeur_id, devise, montant", with an optional "name" column.'
)

# code -> (severity, French template, English template). Templates use str.format fields.
MESSAGES: dict[IssueCode, tuple[Severity, str, str]] = {
    IssueCode.EMPTY_FILE: (Severity.ERROR, "Le fichier est vide.", "The file is empty."),
    IssueCode.UNSUPPORTED_FILE_TYPE: (
        Severity.ERROR,
        "Type de fichier non pris en charge ({kind}) : enregistrez la liste en CSV ou en classeur Excel (.xlsx).",
        "Unsupported file type ({kind}): save the list as CSV or as an Excel workbook (.xlsx).",
    ),
    IssueCode.UNREADABLE_XLSX: (
        Severity.ERROR,
        "Le classeur Excel est illisible ou endommagé : enregistrez-le de nouveau en .xlsx ou en CSV.",
        "The Excel workbook is unreadable or damaged: save it again as .xlsx or CSV.",
    ),
    IssueCode.INVALID_ENCODING: (
        Severity.ERROR,
        "Le texte du fichier n'est pas lisible en {encoding} : enregistrez-le en « CSV UTF-8 ».",
        'The file\'s text cannot be read as {encoding}: save it as "CSV UTF-8".',
    ),
    IssueCode.MIXED_ENCODING: (
        Severity.ERROR,
        "Le fichier mélange plusieurs encodages de caractères : enregistrez-le de nouveau en « CSV UTF-8 ».",
        'The file mixes several character encodings: save it again as "CSV UTF-8".',
    ),
    IssueCode.UNRECOGNISED_HEADER: (
        Severity.ERROR,
        "La première ligne n'est pas un en-tête reconnu ({columns}). " + _EXPECTED_FR,
        "The first line is not a recognised header ({columns}). " + _EXPECTED_EN,
    ),
    IssueCode.MISSING_COLUMNS: (
        Severity.ERROR,
        "Colonnes manquantes : {columns}. " + _EXPECTED_FR,
        "Missing columns: {columns}. " + _EXPECTED_EN,
    ),
    IssueCode.UNKNOWN_COLUMNS: (
        Severity.ERROR,
        "Colonnes inconnues : {columns}. " + _EXPECTED_FR,
        "Unknown columns: {columns}. " + _EXPECTED_EN,
    ),
    IssueCode.DUPLICATE_COLUMNS: (
        Severity.ERROR,
        "Colonnes en double : {columns}. Chaque colonne ne doit apparaître qu'une fois.",
        "Duplicate columns: {columns}. Each column may appear only once.",
    ),
    IssueCode.NO_LINES: (
        Severity.ERROR,
        "Le fichier ne contient aucune ligne de paiement après l'en-tête.",
        "The file has no payment line after the header.",
    ),
    IssueCode.TOO_MANY_LINES: (
        Severity.ERROR,
        "Le fichier dépasse {limit} lignes de paiement : découpez-le en plusieurs lots.",
        "The file has more than {limit} payment lines: split it into several batches.",
    ),
    IssueCode.LINE_TOO_LONG: (
        Severity.ERROR,
        "La ligne dépasse {limit} caractères.",
        "The line is longer than {limit} characters.",
    ),
    IssueCode.MALFORMED_LINE: (
        Severity.ERROR,
        "Ligne illisible (guillemets mal fermés ?).",
        "Unreadable line (unbalanced quotes?).",
    ),
    IssueCode.TOO_FEW_COLUMNS: (
        Severity.ERROR,
        "La ligne a {count} colonne(s) ; {expected} sont attendues.",
        "The line has {count} column(s); {expected} are expected.",
    ),
    IssueCode.TOO_MANY_COLUMNS: (
        Severity.ERROR,
        "La ligne a {count} colonnes remplies ; {expected} au plus sont attendues.",
        "The line has {count} filled columns; at most {expected} are expected.",
    ),
    IssueCode.MISSING_VALUE: (
        Severity.ERROR,
        "La colonne « {column} » est vide.",
        'Column "{column}" is empty.',
    ),
    IssueCode.INVALID_TRANSFER_ID: (
        Severity.ERROR,
        "Identifiant de transfert invalide : « {value} » (1 à 64 caractères : lettres, chiffres, « . _ : - »).",
        'Invalid transfer id: "{value}" (1 to 64 characters: letters, digits, ". _ : -").',
    ),
    IssueCode.DUPLICATE_TRANSFER_ID: (
        Severity.ERROR,
        "L'identifiant de transfert « {value} » figure déjà à la ligne {first_line}.",
        'Transfer id "{value}" already appears on line {first_line}.',
    ),
    IssueCode.TRANSFER_ID_ALREADY_USED: (
        Severity.ERROR,
        "L'identifiant de transfert « {value} » a déjà été utilisé dans un lot précédent.",
        'Transfer id "{value}" was already used in an earlier batch.',
    ),
    IssueCode.INVALID_AMOUNT: (
        Severity.ERROR,
        "Montant invalide : « {value} ».",
        'Invalid amount: "{value}".',
    ),
    IssueCode.FRACTIONAL_AMOUNT: (
        Severity.ERROR,
        "Le montant « {value} » a trop de décimales pour {currency} ({exponent} au plus).",
        'Amount "{value}" has too many decimals for {currency} (at most {exponent}).',
    ),
    IssueCode.AMOUNT_NOT_POSITIVE: (
        Severity.ERROR,
        "Le montant doit être supérieur à zéro : « {value} ».",
        'The amount must be greater than zero: "{value}".',
    ),
    IssueCode.AMOUNT_TOO_LARGE: (
        Severity.ERROR,
        "Le montant « {value} » dépasse le maximum autorisé par ligne ({limit}).",
        'Amount "{value}" exceeds the maximum allowed per line ({limit}).',
    ),
    IssueCode.UNKNOWN_CURRENCY: (
        Severity.ERROR,
        "Devise inconnue : « {value} » (code ISO 4217 attendu, par exemple XOF ou XAF).",
        'Unknown currency: "{value}" (an ISO 4217 code is expected, e.g. XOF or XAF).',
    ),
    IssueCode.UNSUPPORTED_CURRENCY: (
        Severity.ERROR,
        "La devise {value} n'est pas acceptée ici (acceptées : {supported}).",
        "Currency {value} is not accepted here (accepted: {supported}).",
    ),
    IssueCode.CURRENCY_MISMATCH: (
        Severity.ERROR,
        "La devise {value} diffère de celle du lot ({currency}) : un lot se paie dans une seule devise.",
        "Currency {value} differs from the batch's ({currency}): a batch is paid in one currency.",
    ),
    IssueCode.UNKNOWN_PARTY_ID_TYPE: (
        Severity.ERROR,
        "Type d'identifiant inconnu : « {value} » (valeurs possibles : {known}).",
        'Unknown party id type: "{value}" (possible values: {known}).',
    ),
    IssueCode.UNSUPPORTED_PARTY_ID_TYPE: (
        Severity.ERROR,
        "Le type d'identifiant {value} n'est pas pris en charge par ce fournisseur (acceptés : {supported}).",
        "Party id type {value} is not supported by this provider (supported: {supported}).",
    ),
    IssueCode.INVALID_PHONE: (
        Severity.ERROR,
        "Numéro de téléphone invalide : « {value} ».",
        'Invalid phone number: "{value}".',
    ),
    IssueCode.INVALID_PARTY_IDENTIFIER: (
        Severity.ERROR,
        "Identifiant de bénéficiaire invalide pour le type {party_id_type} : « {value} ».",
        'Invalid party identifier for type {party_id_type}: "{value}".',
    ),
    IssueCode.INVALID_PAYEE_NAME: (
        Severity.ERROR,
        "Nom du bénéficiaire invalide : {limit} caractères au plus, sans caractères de contrôle.",
        "Invalid payee name: at most {limit} characters, without control characters.",
    ),
    IssueCode.DUPLICATE_PAYEE_AMOUNT: (
        Severity.WARNING,
        "Même bénéficiaire et même montant qu'à la ligne {first_line} : à vérifier avant l'approbation.",
        "Same payee and amount as line {first_line}: check before approval.",
    ),
}

_VALUE_PREVIEW = 60


def preview(value: str) -> str:
    """A cell as quoted in a message: one line, at most 60 characters."""
    flat = " ".join(value.split())
    return flat if len(flat) <= _VALUE_PREVIEW else flat[: _VALUE_PREVIEW - 1] + "…"


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding. ``column`` is the header as written in the file; ``field`` its canonical name."""

    code: IssueCode
    severity: Severity
    message_fr: str
    message_en: str
    line: int | None = None
    column: str | None = None
    field: str | None = None
    value: str | None = None

    def message(self, language: Language | None = None) -> str:
        return pick(self.message_fr, self.message_en, language)

    def describe(self, language: Language | None = None) -> str:
        """The message with its place, e.g. « Ligne 5, colonne « montant » : Montant invalide … »."""
        lang_en = pick("fr", "en", language) == "en"
        where = ""
        if self.line is not None:
            where = f"Line {self.line}" if lang_en else f"Ligne {self.line}"
            if self.column is not None:
                where += f', column "{self.column}"' if lang_en else f", colonne « {self.column} »"
            where += ": " if lang_en else " : "
        return where + self.message(language)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Issue:
        """An issue as :meth:`to_dict` stored it (e.g. in a batch's report)."""
        return cls(
            code=IssueCode(data["code"]),
            severity=Severity(data["severity"]),
            message_fr=data["message_fr"],
            message_en=data["message_en"],
            line=data.get("line"),
            column=data.get("column"),
            field=data.get("field"),
            value=data.get("value"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "code": self.code.value,
            "severity": self.severity.value,
            "message_fr": self.message_fr,
            "message_en": self.message_en,
            "value": self.value,
        }


class Localized(NamedTuple):
    """A message parameter that reads differently in each language (an amount, a word)."""

    fr: str
    en: str


def make_issue(
    code: IssueCode,
    *,
    line: int | None = None,
    column: str | None = None,
    field: str | None = None,
    value: str | None = None,
    **params: object,
) -> Issue:
    """Build an issue from the catalogue; ``value`` (the cell at fault) is quoted in the message as ``{value}``."""
    severity, fr, en = MESSAGES[code]
    shown = preview(value) if value is not None else ""
    params_fr = {k: v.fr if isinstance(v, Localized) else v for k, v in params.items()}
    params_en = {k: v.en if isinstance(v, Localized) else v for k, v in params.items()}
    return Issue(
        code=code,
        severity=severity,
        message_fr=fr.format(value=shown, column=column or "", **params_fr),
        message_en=en.format(value=shown, column=column or "", **params_en),
        line=line,
        column=column,
        field=field,
        value=shown if value is not None else None,
    )


class BulkFileError(Exception):
    """The file as a whole cannot be read as a payment list; ``issues`` say why (file-level, no line)."""

    def __init__(self, *issues: Issue) -> None:
        self.issues = issues
        super().__init__("; ".join(issue.message_en for issue in issues))
