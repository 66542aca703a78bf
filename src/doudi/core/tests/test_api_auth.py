"""API authentication (bearer tokens, session with CSRF), tokens, the error shape and the offline docs page."""

import datetime as dt
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory
from django.utils import timezone

from doudi.config.api import api
from doudi.core import token_services, tokens
from doudi.core.models import ApiToken, AuditLog
from doudi.core.scope import scope_for


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The users fixture hashes seven passwords per test; PBKDF2 at production strength costs seconds each time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert {"code", "message", "field"} <= set(body)
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code
    return body


@pytest.fixture
def token_of(users):
    def make(user, **kwargs):
        _, plain = token_services.api_token_create(scope=scope_for(user), name="脚本", **kwargs)
        return plain

    return make


# --- tokens -----------------------------------------------------------------------------------------------------


def test_creating_a_token_returns_the_secret_once_and_stores_only_its_sha256(client, users):
    # given a logged-in county approver
    client.force_login(users.county_approver)
    # when a token is created
    response = client.post("/api/tokens", {"name": "统计脚本"}, content_type="application/json")
    # then the plain token comes back once, and only its hash is stored
    assert response.status_code == 201
    plain = response.json()["token"]
    assert plain.startswith("ddt_") and len(plain) > 40
    record = ApiToken.objects.get()
    assert record.token_hash == tokens.token_hash(plain)
    assert plain not in str(ApiToken.objects.values().get())
    assert record.user == users.county_approver
    entry = AuditLog.objects.get(subject_type="api_token")
    assert entry.action == "create"
    assert plain not in str(entry.after) and record.token_hash not in str(entry.after)
    # and the listing shows the token without any secret
    listed = client.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["统计脚本"]
    assert "token" not in listed[0] and "token_hash" not in listed[0]


def test_a_token_acts_with_its_users_role_and_region(client, users, token_of):
    plain = token_of(users.village_worker)
    me = client.get("/api/me", **bearer(plain))
    assert me.status_code == 200
    assert me.json()["role"] == "village_worker"
    assert me.json()["region"]["code"] == users.village_worker.region_id
    assert ApiToken.objects.get().last_used_at is not None


def test_a_supervisors_token_cannot_read_personal_records(client, users, token_of):
    response = client.get("/api/households", **bearer(token_of(users.supervisor)))
    assert_error_shape(response, 403, "forbidden")


def test_token_requests_need_no_csrf_token(users, token_of):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        "/api/tokens", {"name": "第二个"}, content_type="application/json", **bearer(token_of(users.county_approver))
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(
            lambda record, user: ApiToken.objects.filter(pk=record.pk).update(revoked_at=timezone.now()), id="revoked"
        ),
        pytest.param(
            lambda record, user: ApiToken.objects.filter(pk=record.pk).update(
                expires_at=timezone.now() - dt.timedelta(seconds=1)
            ),
            id="expired",
        ),
        pytest.param(
            lambda record, user: type(user).objects.filter(pk=user.pk).update(is_active=False), id="user-deactivated"
        ),
    ],
)
def test_revoked_or_expired_tokens_and_inactive_users_get_401(client, users, spoil):
    record, plain = token_services.api_token_create(scope=scope_for(users.county_approver), name="x")
    assert client.get("/api/me", **bearer(plain)).status_code == 200
    spoil(record, users.county_approver)
    assert_error_shape(client.get("/api/me", **bearer(plain)), 401, "unauthenticated")


@pytest.mark.parametrize(
    "header", ["Bearer ddt_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 500]
)
def test_a_bad_authorization_header_is_refused_even_with_a_valid_session(client, users, header):
    client.force_login(users.county_approver)
    assert_error_shape(client.get("/api/me", HTTP_AUTHORIZATION=header), 401, "unauthenticated")


def test_unauthenticated_requests_get_401_in_the_error_shape(client, tree):
    assert_error_shape(client.get("/api/households"), 401, "unauthenticated")
    assert_error_shape(client.post("/api/households", {}, content_type="application/json"), 401, "unauthenticated")


def test_an_inactive_users_session_is_not_accepted(client, users):
    client.force_login(users.county_approver)
    type(users.county_approver).objects.filter(pk=users.county_approver.pk).update(is_active=False)
    assert_error_shape(client.get("/api/me"), 401)


def test_revoking_a_token_is_audited_and_stops_it_at_once(client, users, token_of):
    plain = token_of(users.county_approver)
    record = ApiToken.objects.get()
    client.force_login(users.county_approver)
    assert client.delete(f"/api/tokens/{record.pk}").status_code == 204
    assert client.delete(f"/api/tokens/{record.pk}").status_code == 204  # idempotent
    assert AuditLog.objects.filter(subject_type="api_token", action="end").count() == 1
    client.logout()
    assert_error_shape(client.get("/api/me", **bearer(plain)), 401)


def test_nobody_can_see_or_revoke_another_users_token_except_an_administrator_over_them(client, users, token_of):
    token_of(users.village_worker)
    record = ApiToken.objects.get()
    client.force_login(users.county_approver)
    assert client.get("/api/tokens").json() == []
    assert_error_shape(client.delete(f"/api/tokens/{record.pk}"), 404, "not_found")
    assert ApiToken.objects.get().revoked_at is None
    client.force_login(users.outsider)
    assert_error_shape(client.delete(f"/api/tokens/{record.pk}"), 404)
    client.force_login(users.admin)
    assert client.delete(f"/api/tokens/{record.pk}").status_code == 204
    assert ApiToken.objects.get().revoked_at is not None


def test_token_names_and_lifetimes_are_validated(client, users):
    client.force_login(users.county_approver)
    assert_error_shape(client.post("/api/tokens", {"name": "  "}, content_type="application/json"), 422, "required")
    body = assert_error_shape(
        client.post("/api/tokens", {"name": "x", "expires_in_days": 9999}, content_type="application/json"), 422
    )
    assert body["field"] == "expires_in_days"
    assert ApiToken.objects.count() == 0


def test_the_last_used_stamp_is_written_at_most_once_a_minute(users):
    record, _ = token_services.api_token_create(scope=scope_for(users.county_approver), name="x")
    first = timezone.now()
    token_services.api_token_mark_used(token=record, now=first)
    token_services.api_token_mark_used(token=record, now=first + dt.timedelta(seconds=30))
    record.refresh_from_db()
    assert record.last_used_at == first
    token_services.api_token_mark_used(token=record, now=first + dt.timedelta(minutes=2))
    record.refresh_from_db()
    assert record.last_used_at == first + dt.timedelta(minutes=2)


# --- session auth and CSRF --------------------------------------------------------------------------------------


def test_session_writes_need_the_csrf_token(users):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(users.county_approver)
    # without the CSRF token: refused in the error shape, nothing written
    refused = strict.post("/api/tokens", {"name": "x"}, content_type="application/json")
    assert_error_shape(refused, 403, "csrf_failed")
    assert ApiToken.objects.count() == 0
    # reads need none
    assert strict.get("/api/me").status_code == 200
    # with the cookie and the header, as the web pages (and the docs page) send them
    strict.get("/api/docs")
    csrf = strict.cookies["csrftoken"].value
    accepted = strict.post("/api/tokens", {"name": "x"}, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 201


# --- error shape ------------------------------------------------------------------------------------------------


def test_a_body_that_is_not_json_gets_the_error_shape(client, users):
    client.force_login(users.county_approver)
    assert_error_shape(client.post("/api/tokens", "{not json", content_type="application/json"), 400, "bad_request")


def test_invalid_input_names_the_field(client, users):
    client.force_login(users.county_approver)
    body = assert_error_shape(client.get("/api/regions?level=galaxy"), 422, "invalid")
    assert body["field"] == "level"


def test_unknown_api_paths_get_404_in_the_error_shape(client, users):
    client.force_login(users.county_approver)
    assert_error_shape(client.get("/api/no-such-thing"), 404, "not_found")
    assert_error_shape(client.post("/api/households/1/nothing", {}, content_type="application/json"), 404)


def test_djangos_http404_and_unexpected_errors_map_to_the_error_shape(client, users, monkeypatch):
    from django.http import Http404

    request = RequestFactory().get("/api/x")
    response = api.on_exception(request, Http404("no"))
    assert response.status_code == 404
    assert b'"code": "not_found"' in response.content

    def boom(**kwargs):
        raise RuntimeError("46900119800517001X exploded")

    monkeypatch.setattr("doudi.core.selectors.region_list", boom)
    client.force_login(users.county_approver)
    body = assert_error_shape(client.get("/api/regions"), 500, "server_error")
    assert "46900119800517001X" not in body["message"]


def test_a_user_without_a_region_is_refused_with_403(client, tree):
    from doudi.core.models import User

    user = User.objects.create_user(username="noregion", password="x" * 12, role="county_approver")
    client.force_login(user)
    assert_error_shape(client.get("/api/me"), 403, "forbidden")


# --- me, regions ------------------------------------------------------------------------------------------------


def test_me_describes_the_role_and_region(client, users):
    client.force_login(users.township_reviewer)
    body = client.get("/api/me").json()
    assert body["role"] == "township_reviewer"
    assert body["region"]["code"] == users.township_reviewer.region_id
    assert body["reads_personal_data"] is True and body["bulk_registry"] is True


def test_region_lists_contain_only_codes_in_scope(client, tree, users):
    client.force_login(users.township_reviewer)
    codes = [r["code"] for r in client.get("/api/regions?level=village").json()]
    assert codes == [tree.village.code, tree.village2.code]
    assert client.get(f"/api/regions?parent={tree.other_township.code}").json() == []


# --- docs -------------------------------------------------------------------------------------------------------

ASSET_RE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def test_the_docs_page_loads_nothing_from_the_internet(client, db):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assets = ASSET_RE.findall(html)
    assert assets, "the docs page should reference the swagger-ui assets"
    external = [a for a in assets if a.startswith(("http://", "https://", "//"))]
    assert external == []
    assert all(a.startswith("/static/") for a in assets)
    assert "cdn" not in html.lower()


def test_the_docs_assets_are_served_from_local_static_files(client, db):
    # Needs "ninja" in INSTALLED_APPS so that the static-files finders (and collectstatic) see ninja's assets.
    html = client.get("/api/docs").content.decode()
    for asset in ASSET_RE.findall(html):
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a local static file"


def test_the_openapi_schema_documents_money_as_strings_and_both_auth_schemes(client, db):
    schema = client.get("/api/openapi.json").json()
    item = schema["components"]["schemas"]["ItemOut"]["properties"]["monthly_amount"]
    assert "number" not in str(item)
    assert "string" in str(item)
    assert {"BearerTokenAuth", "SessionCsrfAuth"} <= set(schema["components"]["securitySchemes"])
