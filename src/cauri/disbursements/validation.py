"""Checking a bulk payment file line by line, streamed, and reporting what is wrong where.

    validation = validate_bulk_file(upload, ValidationOptions(batch_id=batch.id, default_region="SN"))
    for chunk in validation:                # or: async for chunk in validation.stream()
        store(chunk.lines, chunk.issues)    # a thousand lines at a time
    report = validation.report              # totals, first issues, counts per code

Memory stays bounded whatever the file's size: rows are read one block at a time, lines leave in chunks, the
report keeps the first ``max_detailed_issues`` issues and counts the rest by code, and duplicate detection
remembers about 24 bytes per line (:class:`~cauri.disbursements.ingest.seen.SeenIndex`).

"Already used in an earlier batch" needs the database: pass ``known_transfer_ids``, a callable (sync or async)
that receives a chunk of transfer ids and returns those already known.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import pickle
import sys
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final

from cauri.core.money import Money
from cauri.disbursements.ingest.checks import LineChecker
from cauri.disbursements.ingest.copyrows import (
    BIGINT_FIELD,
    FALSE_FIELD,
    INTEGER_FIELD,
    LENGTH,
    NULL_FIELD,
    TRUE_FIELD,
    CopyRowFormat,
    copy_block,
    decode_copy_rows,
    text_field,
)
from cauri.disbursements.ingest.messages import Issue, IssueCode, Severity, make_issue
from cauri.disbursements.ingest.phones import PhoneNormaliser
from cauri.disbursements.ingest.seen import SeenIndex
from cauri.disbursements.parsing import (
    DEFAULT_MAX_LINE_LENGTH,
    BulkFileError,
    Container,
    Field,
    FileFormat,
    Layout,
    OpenedFile,
    open_bulk_file,
)

KnownTransferIds = Callable[[Sequence[str]], Collection[str] | Awaitable[Collection[str]]]

EXCEL_MAX_ROWS: Final = 1_048_576
_MESSAGE_LIMIT: Final = 1 << 20


@dataclass(frozen=True)
class ValidationOptions:
    batch_id: uuid.UUID  # generated transfer ids derive from it: the same file gives the same ids
    default_region: str = "CM"  # the organisation's; "690 00 00 00" is then +237 690 00 00 00
    currency: str | None = None  # the batch's currency; None: the first valid line's
    accepted_currencies: frozenset[str] | None = None  # None: every currency Cauri knows
    supported_party_id_types: frozenset[str] = frozenset({"MSISDN"})  # what the provider can pay
    max_amounts: Mapping[str, int] = field(default_factory=dict)  # currency -> largest amount per line (minor)
    max_lines: int = EXCEL_MAX_ROWS
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH
    max_detailed_issues: int = 1000
    chunk_size: int = 1000


@dataclass(frozen=True, slots=True)
class ValidLine:
    """One payable line, normalised. ``party_identifier`` is E.164 for MSISDN."""

    line: int
    transfer_id: str
    amount: int  # minor units
    currency: str
    party_id_type: str
    party_identifier: str
    payee_name: str | None
    review: tuple[IssueCode, ...] = ()  # warnings: valid, but to be looked at before approval

    @property
    def e164(self) -> str | None:
        return self.party_identifier if self.party_id_type == "MSISDN" else None

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class ValidatedChunk:
    """Consecutive lines of the file: the valid ones, and every issue found on them (errors and warnings).

    From ``stream(copy=…)`` the valid lines may come as ``copy_rows`` instead, already written as rows of
    PostgreSQL's binary COPY format (:mod:`~cauri.disbursements.ingest.copyrows`); ``lines`` then decodes them
    when asked, and ``valid_count`` says how many there are without decoding.
    """

    __slots__ = ("_lines", "copy_rows", "first_line", "issues", "last_line", "valid_count")

    def __init__(
        self,
        first_line: int,
        last_line: int,
        lines: list[ValidLine] | None,
        issues: list[Issue],
        *,
        copy_rows: bytes | None = None,
        valid_count: int = 0,
    ) -> None:
        if lines is None and copy_rows is None:
            raise ValueError("a chunk needs its lines or their COPY rows")
        self.first_line = first_line
        self.last_line = last_line
        self.issues = issues
        self.copy_rows = copy_rows
        self._lines = lines
        self.valid_count = len(lines) if lines is not None else valid_count

    @property
    def lines(self) -> list[ValidLine]:
        if self._lines is None:
            assert self.copy_rows is not None
            self._lines = [
                ValidLine(line, transfer_id, amount, currency, kind, identifier, name, tuple(map(IssueCode, review)))
                for line, transfer_id, amount, currency, kind, identifier, name, review in decode_copy_rows(
                    self.copy_rows
                )
            ]
        return self._lines

    def __repr__(self) -> str:
        return (
            f"ValidatedChunk(first_line={self.first_line}, last_line={self.last_line}, "
            f"valid={self.valid_count}, issues={len(self.issues)})"
        )


@dataclass
class ValidationReport:
    container: Container | None = None
    encoding: str | None = None
    delimiter: str | None = None
    file_format: FileFormat | None = None
    columns: tuple[str, ...] = ()
    currency: str | None = None
    lines: int = 0  # payment lines read (header and empty lines not counted)
    empty_lines: int = 0
    valid_lines: int = 0
    invalid_lines: int = 0
    warning_lines: int = 0  # valid lines flagged for review
    totals: dict[str, int] = field(default_factory=dict)  # currency -> minor units of the valid lines
    file_issues: list[Issue] = field(default_factory=list)  # why the file as a whole is refused
    issues: list[Issue] = field(default_factory=list)  # the first max_detailed_issues line issues
    issues_omitted: int = 0
    counts_by_code: Counter[str] = field(default_factory=Counter)
    complete: bool = False

    @property
    def accepted(self) -> bool:
        """The file was read to the end as a payment list (its lines may still have errors)."""
        return self.complete and not self.file_issues

    @property
    def clean(self) -> bool:
        """Accepted, and every line is valid."""
        return self.accepted and self.invalid_lines == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for storing with the batch."""
        return {
            "container": self.container,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "file_format": self.file_format,
            "columns": list(self.columns),
            "currency": self.currency,
            "lines": self.lines,
            "empty_lines": self.empty_lines,
            "valid_lines": self.valid_lines,
            "invalid_lines": self.invalid_lines,
            "warning_lines": self.warning_lines,
            "totals": dict(self.totals),
            "file_issues": [issue.to_dict() for issue in self.file_issues],
            "issues": [issue.to_dict() for issue in self.issues],
            "issues_omitted": self.issues_omitted,
            "counts_by_code": dict(self.counts_by_code),
            "accepted": self.accepted,
        }


@dataclass
class _Pending:
    """A chunk checked line by line, waiting for the earlier-batches check."""

    first_line: int
    last_line: int
    candidates: list[ValidLine]
    issues: list[Issue]


@dataclass
class _Encoded:
    """A chunk checked and resolved where it was read: its valid lines as COPY rows."""

    first_line: int
    last_line: int
    rows: bytes
    count: int
    warnings: int
    totals: dict[str, int]
    issues: list[Issue]


_Opened = tuple[OpenedFile, LineChecker]


def generated_transfer_id(batch_id: uuid.UUID, line: int) -> str:
    """The transfer id of a payment-list line: ``uuid5(batch_id, str(line))``, so the same file gives the same ids."""
    return str(uuid.uuid5(batch_id, str(line)))


class TransferIdGenerator:
    """:func:`generated_transfer_id`, several times faster: the batch id is hashed once."""

    def __init__(self, batch_id: uuid.UUID) -> None:
        self._prefix = hashlib.sha1(batch_id.bytes, usedforsecurity=False)

    def __call__(self, line: int) -> str:
        digest = self._prefix.copy()
        digest.update(b"%d" % line)
        text = digest.hexdigest()
        # Version 5 in the 13th hex digit; RFC 4122 variant (10xx) in the 17th.
        return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{_VARIANT[text[16]]}{text[17:20]}-{text[20:32]}"


_VARIANT: Final = {digit: "89ab"[int(digit, 16) & 0x3] for digit in "0123456789abcdef"}


def check_in_child(
    path: str,
    options: ValidationOptions,
    out: IO[bytes],
    copy: CopyRowFormat | None = None,
    checks_known: bool = False,
) -> None:
    """The child process of :meth:`BulkValidation.stream` with ``process_path``: read and check the file, send
    its description, each chunk and, at the end, the counts; each message a pickle preceded by its length.

    A chunk is resolved here when nothing in it waits for the database (``copy`` given, and no earlier-batches
    check: ``checks_known`` false or generated ids): its valid lines leave as COPY rows. Otherwise it leaves as
    plain tuples (cheaper to pickle than objects) for the parent to resolve."""

    def send(message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(data).to_bytes(8, "big"))
        out.write(data)

    try:
        with open(path, "rb") as source:
            validation = BulkValidation(source, options)
            opened = validation._open()
            if opened is not None:
                encode = copy is not None and validation._resolves_alone(checks_known)
                send(("layout", validation._layout, validation.report, encode))
                if copy is not None and encode:
                    for encoded in validation._encoded_chunks(opened, copy):
                        send(("rows", encoded))
                else:
                    for pending in validation._pending_chunks(opened):
                        rows = [
                            (
                                line.line,
                                line.transfer_id,
                                line.amount,
                                line.currency,
                                line.party_id_type,
                                line.party_identifier,
                                line.payee_name,
                            )
                            for line in pending.candidates
                        ]
                        send(("chunk", pending.first_line, pending.last_line, rows, pending.issues))
            send(("end", validation.report))
    except Exception as error:  # reported to the parent, which raises it
        send(("error", error))
    finally:
        out.flush()


def validate_bulk_file(
    source: IO[bytes], options: ValidationOptions, *, known_transfer_ids: KnownTransferIds | None = None
) -> BulkValidation:
    """Start checking ``source`` (a binary file object); iterate the result, then read its ``report``."""
    return BulkValidation(source, options, known_transfer_ids=known_transfer_ids)


def collect(
    source: IO[bytes], options: ValidationOptions, *, known_transfer_ids: KnownTransferIds | None = None
) -> tuple[ValidationReport, list[ValidLine]]:
    """Every valid line in a list, with the report: for small files and tests."""
    validation = validate_bulk_file(source, options, known_transfer_ids=known_transfer_ids)
    lines = [line for chunk in validation for line in chunk.lines]
    return validation.report, lines


class BulkValidation:
    """One pass over one file. Iterate it (sync) or ``stream()`` it (async) once; ``report`` is then complete."""

    def __init__(
        self, source: IO[bytes], options: ValidationOptions, *, known_transfer_ids: KnownTransferIds | None = None
    ) -> None:
        self.options = options
        self.report = ValidationReport(currency=options.currency)
        self._source = source
        self._known_transfer_ids = known_transfer_ids
        self._phones = PhoneNormaliser(options.default_region)
        self._payees = SeenIndex()
        self._layout: Layout | None = None
        self._started = False

    # -- driving --------------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[ValidatedChunk]:
        for pending in self._pending_chunks():
            known: Collection[str] = ()
            ids = self._ids_to_check(pending)
            if ids and self._known_transfer_ids is not None:
                answer = self._known_transfer_ids(ids)
                if inspect.isawaitable(answer):
                    if inspect.iscoroutine(answer):
                        answer.close()
                    raise TypeError("known_transfer_ids is asynchronous: use `async for … in validation.stream()`")
                known = answer
            yield self._resolve(pending, known)
        self._finish()

    async def stream(
        self, *, offload: bool = True, process_path: str | None = None, copy: CopyRowFormat | None = None
    ) -> AsyncIterator[ValidatedChunk]:
        """Chunks for async code. With ``offload`` the reading and checking run in a worker thread, one chunk
        at a time, so the event loop stays free while a large file is checked.

        With ``process_path`` (the file's path, the same file as ``source``), reading and checking run in a
        child process instead, on another core: the caller's process only resolves the chunks (duplicates
        across chunks, earlier batches, the report) and stores them, in parallel with the next chunks' checks.

        With ``copy``, chunks whose lines need no earlier-batches check (generated ids, or no
        ``known_transfer_ids``) are resolved where they are checked and carry their valid lines as
        ``copy_rows``, rows of ``bulk_lines`` in PostgreSQL's binary COPY format (``lines`` decodes them on demand).
        """
        if process_path is not None:
            async for chunk in self._stream_from_child(process_path, copy):
                yield chunk
            return
        chunks = self._chunks(copy)
        while True:
            if offload:
                item = await asyncio.to_thread(next, chunks, None)
            else:
                item = next(chunks, None)
            if item is None:
                break
            yield item if isinstance(item, ValidatedChunk) else await self._resolve_async(item)
        self._finish()

    def _chunks(self, copy: CopyRowFormat | None) -> Iterator[ValidatedChunk | _Pending]:
        opened = self._open()
        if opened is None:
            return
        if copy is not None and self._resolves_alone(self._known_transfer_ids is not None):
            for encoded in self._encoded_chunks(opened, copy):
                yield self._take_encoded(encoded)
        else:
            yield from self._pending_chunks(opened)

    def _resolves_alone(self, checks_known: bool) -> bool:
        """Whether a chunk can be resolved as soon as it is checked: nothing in it waits for the database."""
        return not checks_known or self.report.file_format is not FileFormat.STANDARD

    def _take_encoded(self, encoded: _Encoded) -> ValidatedChunk:
        report = self.report
        report.valid_lines += encoded.count
        report.warning_lines += encoded.warnings
        for currency, amount in encoded.totals.items():
            report.totals[currency] = report.totals.get(currency, 0) + amount
        for issue in encoded.issues:
            self._record(issue)
        return ValidatedChunk(
            encoded.first_line,
            encoded.last_line,
            None,
            encoded.issues,
            copy_rows=encoded.rows,
            valid_count=encoded.count,
        )

    async def _resolve_async(self, pending: _Pending) -> ValidatedChunk:
        known: Collection[str] = ()
        ids = self._ids_to_check(pending)
        if ids and self._known_transfer_ids is not None:
            answer = self._known_transfer_ids(ids)
            known = await answer if inspect.isawaitable(answer) else answer
        return self._resolve(pending, known)

    async def _stream_from_child(self, path: str, copy: CopyRowFormat | None) -> AsyncIterator[ValidatedChunk]:
        if self._started:
            raise RuntimeError("a BulkValidation can be iterated only once")
        self._started = True
        # A fresh interpreter (``python -m``), not a fork: nothing of this process (threads, loops, connections)
        # is inherited, and nothing of its main module is re-imported.
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cauri.disbursements.checker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=_MESSAGE_LIMIT,
        )
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(pickle.dumps((path, self.options, copy, self._known_transfer_ids is not None)))
            await child.stdin.drain()
            child.stdin.close()
            while True:
                try:
                    size = int.from_bytes(await child.stdout.readexactly(8), "big")
                    message = pickle.loads(await child.stdout.readexactly(size))  # noqa: S301 - our own child
                except asyncio.IncompleteReadError:
                    raise RuntimeError(f"the checking process stopped (exit code {await child.wait()})") from None
                kind = message[0]
                if kind == "rows":
                    yield self._take_encoded(message[1])
                elif kind == "chunk":
                    first, last, rows, issues = message[1:]
                    yield await self._resolve_async(_Pending(first, last, [ValidLine(*row) for row in rows], issues))
                elif kind == "layout":
                    self._layout = message[1]
                    self._adopt(message[2], final=False)
                elif kind == "end":
                    self._adopt(message[1], final=True)
                    break
                else:
                    raise message[1]
        finally:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
        self._finish()

    def _adopt(self, child: ValidationReport, *, final: bool) -> None:
        """Take over what the child's reading found (the file's description; at the end, its counts)."""
        report = self.report
        report.container = child.container
        report.encoding = child.encoding
        report.delimiter = child.delimiter
        report.file_format = child.file_format
        report.columns = child.columns
        if final:
            report.currency = child.currency
            report.lines = child.lines
            report.empty_lines = child.empty_lines
            report.invalid_lines += child.invalid_lines  # the parent adds the lines resolving refused
            report.file_issues.extend(child.file_issues)

    def run(self) -> ValidationReport:
        """Check the whole file, dropping the lines: the report alone."""
        deque(self, maxlen=0)
        return self.report

    def _ids_to_check(self, pending: _Pending) -> list[str]:
        if self._known_transfer_ids is None or self.report.file_format is not FileFormat.STANDARD:
            return []  # generated ids are new by construction
        return [line.transfer_id for line in pending.candidates]

    # -- reading --------------------------------------------------------------------------------------------

    def _open(self) -> _Opened | None:
        """Open the file and read its header: the file and the line checker, or None (a file-level issue)."""
        if self._started:
            raise RuntimeError("a BulkValidation can be iterated only once")
        self._started = True
        options = self.options
        try:
            opened = open_bulk_file(self._source, max_line_length=options.max_line_length)
        except BulkFileError as error:
            self.report.file_issues.extend(error.issues)
            return None
        self._describe(opened)
        checker = LineChecker(
            opened.layout,
            phones=self._phones,
            generate_id=TransferIdGenerator(options.batch_id),
            accepted_currencies=options.accepted_currencies,
            supported_party_id_types=options.supported_party_id_types,
            max_amounts=options.max_amounts,
            max_line_length=options.max_line_length,
            batch_currency=options.currency,
        )
        return opened, checker

    def _pending_chunks(self, opened_file: _Opened | None = None) -> Iterator[_Pending]:
        """The file's lines checked one by one, in chunks of candidates still to resolve."""
        if opened_file is None:
            opened_file = self._open()
            if opened_file is None:
                return
        opened, checker = opened_file
        report = self.report
        options = self.options
        size = options.chunk_size
        pending = _Pending(opened.header_line + 1, opened.header_line, [], [])
        try:
            for line, cells, problem in opened.rows:
                if problem is None and not "".join(cells).strip():
                    report.empty_lines += 1
                else:
                    report.lines += 1
                    if report.lines > options.max_lines:
                        report.lines -= 1
                        report.file_issues.append(make_issue(IssueCode.TOO_MANY_LINES, limit=options.max_lines))
                        break
                    checked = checker.check(line, cells, problem)
                    if isinstance(checked, list):
                        report.invalid_lines += 1
                        pending.issues.extend(checked)
                    else:
                        transfer_id, amount, currency, party_id_type, party_identifier, name = checked
                        pending.candidates.append(
                            ValidLine(line, transfer_id, amount, currency, party_id_type, party_identifier, name)
                        )
                pending.last_line = line
                if line - pending.first_line + 1 >= size:
                    yield pending
                    pending = _Pending(line + 1, line, [], [])
        except BulkFileError as error:
            report.file_issues.extend(error.issues)
        finally:
            opened.rows.close()  # an .xlsx workbook holds its archive open until then
        report.currency = checker.batch_currency
        report.encoding = opened.encoding
        if pending.last_line >= pending.first_line:
            yield pending

    def _encoded_chunks(  # noqa: PLR0912, PLR0915 - one loop, no call per line: a million-line upload's hot path
        self, opened_file: _Opened, copy: CopyRowFormat
    ) -> Iterator[_Encoded]:
        """Like :meth:`_pending_chunks` followed by :meth:`_resolve` without earlier-batches check (the same
        lines, issues and counts), with each valid line written at once as a COPY row: no object per line.
        Issues are not recorded in the report here: the receiver of the chunks does that."""
        opened, checker = opened_file
        report = self.report
        options = self.options
        size = options.chunk_size
        max_lines = options.max_lines
        check = checker.check
        seen_payee = self._payees.first_line
        layout = opened.layout
        identifier_column = layout.column(Field.PARTY_IDENTIFIER)
        # Every row starts and ends the same way; a handful of currencies and party id types repeat.
        head = copy.head()
        organization = copy.organization()
        chosen = TRUE_FIELD if layout.file_format is FileFormat.STANDARD else FALSE_FIELD
        tail = copy.tail()
        fields: dict[str, bytes] = {}
        pack_integer, pack_bigint, pack_length = INTEGER_FIELD.pack, BIGINT_FIELD.pack, LENGTH.pack
        duplicate_code = IssueCode.DUPLICATE_PAYEE_AMOUNT
        duplicate_review = text_field(duplicate_code.value)
        first, last = opened.header_line + 1, opened.header_line
        rows: list[bytes] = []
        issues: list[Issue] = []
        total = warnings = 0  # every valid line is in the batch's currency (the checker's, once set)
        try:
            for line, cells, problem in opened.rows:
                # Blank: every cell empty or spaces (a filled first cell says it at once).
                if problem is None and (not cells or not cells[0].strip()) and not "".join(cells).strip():
                    report.empty_lines += 1
                else:
                    report.lines += 1
                    if report.lines > max_lines:
                        report.lines -= 1
                        report.file_issues.append(make_issue(IssueCode.TOO_MANY_LINES, limit=max_lines))
                        break
                    checked = check(line, cells, problem)
                    if isinstance(checked, list):
                        report.invalid_lines += 1
                        issues.extend(checked)
                    else:
                        transfer_id, amount, currency, party_id_type, party_identifier, name = checked
                        earlier = seen_payee((party_id_type, party_identifier, amount, currency), line)
                        if earlier is None:
                            review = NULL_FIELD
                        else:
                            issues.append(
                                make_issue(
                                    duplicate_code,
                                    line=line,
                                    column=identifier_column,
                                    field=Field.PARTY_IDENTIFIER,
                                    value=party_identifier,
                                    first_line=earlier,
                                )
                            )
                            review = duplicate_review
                            warnings += 1
                        transfer = transfer_id.encode()
                        identifier = party_identifier.encode()
                        if name is None:
                            name_length, name_bytes = NULL_FIELD, b""
                        else:
                            name_bytes = name.encode()
                            name_length = pack_length(len(name_bytes))
                        rows.append(
                            b"".join(
                                (
                                    head,
                                    pack_integer(4, line),
                                    organization,
                                    pack_length(len(transfer)),
                                    transfer,
                                    chosen,
                                    pack_bigint(8, amount),
                                    fields.get(currency) or fields.setdefault(currency, text_field(currency)),
                                    fields.get(party_id_type)
                                    or fields.setdefault(party_id_type, text_field(party_id_type)),
                                    pack_length(len(identifier)),
                                    identifier,
                                    name_length,
                                    name_bytes,
                                    review,
                                    tail,
                                )
                            )
                        )
                        total += amount
                last = line
                if line - first + 1 >= size:
                    totals = {checker.batch_currency: total} if rows and checker.batch_currency else {}
                    yield _Encoded(first, last, copy_block(rows), len(rows), warnings, totals, issues)
                    first, rows, issues, total, warnings = line + 1, [], [], 0, 0
        except BulkFileError as error:
            report.file_issues.extend(error.issues)
        finally:
            opened.rows.close()  # an .xlsx workbook holds its archive open until then
        report.currency = checker.batch_currency
        report.encoding = opened.encoding
        if last >= first:
            totals = {checker.batch_currency: total} if rows and checker.batch_currency else {}
            yield _Encoded(first, last, copy_block(rows), len(rows), warnings, totals, issues)

    def _describe(self, opened: OpenedFile) -> None:
        report = self.report
        report.container = opened.container
        report.encoding = opened.encoding
        report.delimiter = opened.delimiter
        report.file_format = opened.layout.file_format
        report.columns = opened.layout.header
        self._layout = opened.layout

    def _resolve(self, pending: _Pending, known: Collection[str]) -> ValidatedChunk:
        report = self.report
        issues = pending.issues
        lines: list[ValidLine] = []
        known_ids = set(known) if known else None
        payees = self._payees
        for line in pending.candidates:
            if known_ids is not None and line.transfer_id in known_ids:
                report.invalid_lines += 1
                issues.append(self._line_issue(IssueCode.TRANSFER_ID_ALREADY_USED, line, Field.TRANSFER_ID))
                continue
            first = payees.first_line(
                (line.party_id_type, line.party_identifier, line.amount, line.currency), line.line
            )
            if first is not None:
                issues.append(
                    self._line_issue(IssueCode.DUPLICATE_PAYEE_AMOUNT, line, Field.PARTY_IDENTIFIER, first_line=first)
                )
                line = ValidLine(  # noqa: PLW2901 - the same line, now flagged for review
                    line.line,
                    line.transfer_id,
                    line.amount,
                    line.currency,
                    line.party_id_type,
                    line.party_identifier,
                    line.payee_name,
                    (*line.review, IssueCode.DUPLICATE_PAYEE_AMOUNT),
                )
                report.warning_lines += 1
            report.valid_lines += 1
            report.totals[line.currency] = report.totals.get(line.currency, 0) + line.amount
            lines.append(line)
        issues.sort(key=lambda issue: issue.line or 0)
        for issue in issues:
            self._record(issue)
        return ValidatedChunk(pending.first_line, pending.last_line, lines, issues)

    def _line_issue(self, code: IssueCode, line: ValidLine, field_: Field, **params: object) -> Issue:
        layout = self._layout
        column = layout.column(field_) if layout is not None and field_ in layout.positions else None
        value = line.transfer_id if field_ is Field.TRANSFER_ID else line.party_identifier
        return make_issue(code, line=line.line, column=column, field=field_, value=value, **params)

    def _record(self, issue: Issue) -> None:
        report = self.report
        report.counts_by_code[issue.code] += 1
        if len(report.issues) < self.options.max_detailed_issues:
            report.issues.append(issue)
        else:
            report.issues_omitted += 1

    def _finish(self) -> None:
        report = self.report
        if not report.file_issues and report.lines == 0:
            report.file_issues.append(make_issue(IssueCode.NO_LINES))
        report.complete = True


__all__ = [
    "BulkValidation",
    "Issue",
    "IssueCode",
    "KnownTransferIds",
    "Severity",
    "TransferIdGenerator",
    "ValidLine",
    "ValidatedChunk",
    "ValidationOptions",
    "ValidationReport",
    "collect",
    "generated_transfer_id",
    "validate_bulk_file",
]
