"""The service catalogue and centres, for portal and mobile channels."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import select

from archive.models import Centre, Service
from archive.roles import Permission
from web.api.schemas import CentreOut, ServiceOut
from web.permissions import requires
from web.runtime import db_session

blp = Blueprint("api_catalogue", __name__, url_prefix="/api/v1", description="Service catalogue")


@blp.route("/services")
@blp.response(200, ServiceOut(many=True))
@requires(Permission.CATALOGUE_READ)
def list_services() -> list[dict[str, Any]]:
    """Active services with their required documents, fees, legal duration and signing chain."""
    rows = db_session().scalars(select(Service).where(Service.active).order_by(Service.code))
    return [
        {
            "code": s.code,
            "name_ar": s.name_ar,
            "name_en": s.name_en,
            "legal_days": s.legal_days,
            "fee_piastres": s.fee_piastres,
            "catalogue_version": s.catalogue_version,
            "required_documents": s.definition.get("required_documents", []),
            "signing_chain": s.definition.get("signing_chain", []),
        }
        for s in rows
    ]


@blp.route("/centres")
@blp.response(200, CentreOut(many=True))
@requires(Permission.CATALOGUE_READ)
def list_centres() -> list[Centre]:
    """Active citizen service centres."""
    return list(db_session().scalars(select(Centre).where(Centre.active).order_by(Centre.code)))
