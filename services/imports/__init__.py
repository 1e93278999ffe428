"""Spreadsheet imports of beneficiaries and staff, and of the 包联 chain (the duty rota, the village
split, the departments' liaisons): templates, reading, row checks, upsert, error reports.

The flow the dashboard and the CLI share:

    table = read_table(data, filename)                 # .xlsx or .csv; ImportFileError for the file
    report = check_beneficiaries(session, pii, table)  # dry run: every row checked, nothing written
    report = import_beneficiaries(session, pii, table, now=..., actor=..., accept_good_rows=...)
    error_report(report)                               # .xlsx of the rows at fault, ID numbers masked

Reading and the per-row field checks are pure; the checks against the database use a small
snapshot of the regions, staff and beneficiaries the file mentions, loaded in a few queries.
Nothing here commits: the caller commits when `report.applied` and it wants the rows kept.

Rules worth knowing:
- Beneficiaries are matched on the keyed hash of the ID number, so re-importing a file changes
  nothing; staff are matched on 工号.
- A blank optional cell (phone, address, assistant) never overwrites what is stored: offices
  import partial lists, and a lost cell must not erase data. Corrections go through the pages.
- The assistant must work in the beneficiary's own village (or community). The service map is
  city > town > village > assistant, and visit plans and the escalation ladder follow it, so an
  assistant from a neighbouring village would sit outside every view of the village. For the
  same reason a beneficiary who moves village needs the new village's assistant in the row.
- An assistant still holding beneficiaries cannot change role or region by import.
- An import that changes nothing writes nothing, not even an audit entry.
- Rows whose 姓名 starts with 示例 are the template's example and are skipped, never imported.

The modules, each importing only those above it:

    wording    the messages and labels office staff read
    columns    the columns of each kind of file, their other spellings and template layout
    read       .xlsx / .csv into a Table; header mapping; ImportFileError
    report     RowResult, ImportReport, masking, error_report
    validate   pure checks: cells into fields, fields against the snapshot into a plan
    snapshot   the database slice a file refers to, loaded in chunks
    apply      check_* and import_*: the whole file, then the writes
    chain_checks, chain_apply   the same two steps for the 包联 files, written through
               services.responsibility_admin (duty: 工号, 开始时间, 结束时间 in local time;
               village_officers: 村（社区）代码, 责任人工号, 副责任人工号; departments: 部门代码,
               部门名称, 负责联络员工号, 副联络员工号; 默认 = the default spread, a blank deputy keeps
               what is stored; a shift already on the rota exactly is left alone)
    templates  the .xlsx templates offered for download

Callers use this package, not its modules: `from services import imports`, then `imports.read_table`.
"""

from __future__ import annotations

from services.imports.apply import Progress, check_beneficiaries, check_staff, import_beneficiaries, import_staff
from services.imports.chain_apply import (
    check_departments,
    check_duty,
    check_village_officers,
    import_departments,
    import_duty,
    import_village_officers,
)
from services.imports.chain_checks import parse_local_time
from services.imports.columns import BENEFICIARY_COLUMNS, CATEGORY_CHOICES, ROLE_CHOICES, STAFF_COLUMNS, Column
from services.imports.read import MAX_ROWS, ImportFileError, Row, Table, map_headers, read_table
from services.imports.report import (
    CREATE,
    ERROR,
    OK,
    SKIPPED,
    UNCHANGED,
    UPDATE,
    ImportReport,
    RowResult,
    error_report,
)
from services.imports.snapshot import load_beneficiary_refs, load_staff_refs
from services.imports.templates import (
    beneficiary_template,
    department_template,
    duty_template,
    staff_template,
    village_officer_template,
)
from services.imports.validate import (
    BeneficiaryFields,
    BeneficiaryPlan,
    BeneficiaryRefs,
    BeneficiaryState,
    RegionRef,
    StaffFields,
    StaffPlan,
    StaffRef,
    StaffRefs,
    parse_beneficiary_cells,
    parse_staff_cells,
    resolve_beneficiary,
    resolve_staff,
)

# Every message by name (MSG_*, RESULT_ERROR, ...): pages and tests compare what they show with these.
from services.imports.wording import *  # noqa: F403
