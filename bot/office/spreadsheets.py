"""Spreadsheet import (upload, check, confirm, error report) of beneficiaries, staff and the 包联 chain,
and export of cases and visits."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import date

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from bot.deps import db_session, read_session, services
from bot.inputs import plausible
from bot.office.common import bp, require_writer, signed_in
from services import exports, imports
from services import scope as scoping
from services.policy import permissions

logger = logging.getLogger(__name__)


# --- import and export -------------------------------------------------------------------------------

IMPORT_KINDS = {"beneficiaries": "服务对象", "staff": "工作人员", "village_officers": "包村责任",
                "departments": "职能部门联络员", "duty": "值班表"}
TEMPLATES = {"beneficiaries": imports.beneficiary_template, "staff": imports.staff_template,
             "village_officers": imports.village_officer_template, "departments": imports.department_template,
             "duty": imports.duty_template}
UPLOAD_MAX_BYTES = 20 * 1024 * 1024
UPLOAD_TTL_SECONDS = 3600
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload_key(token: str) -> str:
    return services().keys.upload(token)


def _run_import(kind: str, data: bytes, filename: str, accept_good_rows: bool):
    db, svc = db_session(), services()
    table = imports.read_table(data, filename)
    common = {"now": svc.clock(), "actor": g.staff, "accept_good_rows": accept_good_rows, "ip": request.remote_addr}
    if kind == "beneficiaries":
        return imports.import_beneficiaries(db, svc.pii, table, **common)
    if kind == "duty":
        return imports.import_duty(db, table, tz=svc.settings.tz, **common)
    if kind == "village_officers":
        return imports.import_village_officers(db, table, **common)
    if kind == "departments":
        return imports.import_departments(db, table, **common)
    return imports.import_staff(db, table, **common)


@bp.get("/import")
@signed_in()
def import_page():
    """Upload forms, templates to download, and exports."""
    require_writer()
    return render_template("office/import.html", kinds=IMPORT_KINDS, report=None)


@bp.get("/import/template/<kind>.xlsx")
@signed_in()
def import_template(kind: str):
    """The spreadsheet template offices fill in (Chinese headers, an example row), its reference
    sheets narrowed to the viewer's scope because they name staff."""
    scope = require_writer()
    if kind not in IMPORT_KINDS:
        abort(404)
    return _download(TEMPLATES[kind](db_session(), scope), f"{IMPORT_KINDS[kind]}导入模板.xlsx")


def _download(content: bytes, filename: str):
    from urllib.parse import quote

    response = current_app.response_class(content, mimetype=XLSX)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


@bp.post("/import/<kind>")
@signed_in(roles=permissions.ADMIN_ROLES)
def import_upload(kind: str):
    """Check an uploaded file; import it when every row is good, otherwise show the row report."""
    if kind not in IMPORT_KINDS:
        abort(404)
    request.max_content_length = UPLOAD_MAX_BYTES
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择要导入的 .xlsx 或 .csv 文件", "error")
        return redirect(url_for("office.import_page"))
    data = upload.read()
    try:
        report = _run_import(kind, data, upload.filename, accept_good_rows=False)
    except imports.ImportFileError as refused:
        db_session().rollback()
        flash(refused.message, "error")
        return redirect(url_for("office.import_page"))
    token = None
    if report.applied:
        db_session().commit()
    else:
        db_session().rollback()
        # Kept briefly (in Redis, shared by every worker) for "import the good rows" and the report;
        # encrypted, because the file holds full ID numbers.
        token = secrets.token_urlsafe(16)
        sealed = services().pii.encrypt_bytes(_pack_upload(kind, upload.filename, data))
        services().redis.set(_upload_key(token), sealed, ex=UPLOAD_TTL_SECONDS)
    return render_template("office/import.html", kinds=IMPORT_KINDS, report=report, kind=kind, token=token)


def _pack_upload(kind: str, filename: str, data: bytes) -> bytes:
    """Pack an upload for Redis: kind, file name and contents."""
    header = json.dumps({"kind": kind, "filename": filename}, ensure_ascii=False).encode()
    return len(header).to_bytes(4, "big") + header + data


def _unpack_upload(token: str) -> tuple[str, str, bytes]:
    sealed = services().redis.get(_upload_key(token))
    try:
        raw = services().pii.decrypt_bytes(sealed) if sealed is not None else None
    except ValueError:
        raw = None  # altered, or parked under another PII_KEY: as good as gone
    if raw is None:
        abort(410, description="上传的文件已过期，请重新上传")
    size = int.from_bytes(raw[:4], "big")
    header = json.loads(raw[4:4 + size])
    return header["kind"], header["filename"], raw[4 + size:]


@bp.post("/import/confirm/<token>")
@signed_in(roles=permissions.ADMIN_ROLES)
def import_confirm(token: str):
    """Import only the good rows of a file that had errors, after the user confirmed."""
    kind, filename, data = _unpack_upload(token)
    try:
        report = _run_import(kind, data, filename, accept_good_rows=True)
    except imports.ImportFileError as refused:
        db_session().rollback()
        flash(refused.message, "error")
        return redirect(url_for("office.import_page"))
    db_session().commit()
    services().redis.delete(_upload_key(token))
    return render_template("office/import.html", kinds=IMPORT_KINDS, report=report, kind=kind, token=None)


@bp.get("/import/report/<token>.xlsx")
@signed_in(roles=permissions.ADMIN_ROLES)
def import_report(token: str):
    """The row-by-row error report of an uploaded file (ID numbers masked)."""
    kind, filename, data = _unpack_upload(token)
    report = _run_import(kind, data, filename, accept_good_rows=False)
    db_session().rollback()
    return _download(imports.error_report(report), f"导入问题报告-{filename.rsplit('.', 1)[0]}.xlsx")


@bp.get("/export/<kind>.xlsx")
@signed_in()
def export(kind: str):
    """Cases or visits within the scope as .xlsx: the rows read from the replica, the audit entry
    every export gets written to the primary."""
    scope = require_writer()
    db, svc = db_session(), services()
    args = request.args

    def day(name: str):
        try:
            asked = date.fromisoformat(args[name]) if args.get(name) else None
        except ValueError:
            asked = None
        if args.get(name) and (asked is None or not plausible(asked)):
            abort(400, description=f"日期格式应为 2026-12-01：{args[name]}")
        return asked

    common = {"now": svc.clock(), "tz": svc.settings.tz, "actor": g.staff, "since": day("since"),
              "until": day("until"), "ip": request.remote_addr, "reads": read_session()}
    if kind == "cases":
        result = exports.export_cases(db, narrow=lambda stmt: scoping.requests(scope, stmt), **common)
    elif kind == "visits":
        result = exports.export_visits(db, narrow=lambda stmt: scoping.visits(scope, stmt), **common)
    else:
        abort(404)
    db.commit()
    return _download(result.content, result.filename)
