"""Marshmallow schemas of the API; they validate input and document the OpenAPI spec."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))
    name = fields.String(load_default="api", validate=validate.Length(max=100))


class TokenResponse(Schema):
    token = fields.String(required=True, metadata={"description": "Shown once; send as 'Authorization: Bearer …'"})
    token_type = fields.String(required=True)


class Me(Schema):
    username = fields.String()
    full_name = fields.String()
    roles = fields.List(fields.String())
    permissions = fields.List(fields.String())
    centre = fields.String(allow_none=True)


class RequiredDocument(Schema):
    code = fields.String()
    name_ar = fields.String()
    name_en = fields.String()


class ChainStep(Schema):
    step = fields.String()
    role = fields.String()
    department = fields.String()
    title_ar = fields.String()
    title_en = fields.String()


class ServiceOut(Schema):
    code = fields.String()
    name_ar = fields.String()
    name_en = fields.String()
    legal_days = fields.Integer()
    fee_piastres = fields.Integer()
    catalogue_version = fields.String()
    required_documents = fields.List(fields.Nested(RequiredDocument))
    signing_chain = fields.List(fields.Nested(ChainStep))


class CentreOut(Schema):
    code = fields.String()
    name_ar = fields.String()
    name_en = fields.String()
    governorate_code = fields.String()
