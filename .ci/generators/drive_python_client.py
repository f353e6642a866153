"""Drives the client that openapi-python-client generated from the spec against a running
pearsana-sandbox: all six operations and one error path, asserting what each answers.

Usage: python drive_python_client.py <sandbox url>   (the generated package on sys.path)
"""

import sys

import httpx
from pearsana_partner_client import AuthenticatedClient, Client
from pearsana_partner_client.api.documents import submit_document, submit_document_batch
from pearsana_partner_client.api.health import get_health, ping
from pearsana_partner_client.api.invitations import create_invitation
from pearsana_partner_client.api.users import create_user
from pearsana_partner_client.models import (
    CreateInvitationRequest,
    CreateUserRequest,
    ErrorCode,
    ErrorResponse,
    ExternalReference,
    InvitationIdentity,
    SubmitDocumentBatchItem,
    SubmitDocumentBatchRequest,
    SubmitDocumentRequest,
    UserIdentity,
    VerificationIntent,
)

VERSION = "2026-01-30"


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def main(url):
    token = httpx.post(
        f"{url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
        },
    ).json()["access_token"]
    public = Client(base_url=url)
    client = AuthenticatedClient(base_url=url, token=token)

    health = get_health.sync_detailed(client=public)
    check(health.status_code == 200 and health.parsed.status == "ok", "getHealth")

    pinged = ping.sync_detailed(client=client, x_api_version=VERSION)
    check(
        pinged.status_code == 200 and pinged.parsed.client_id == "sandbox-client",
        "ping",
    )

    reference = ExternalReference(namespace="SIS", external_id="PY-1")
    user = create_user.sync_detailed(
        client=client,
        x_api_version=VERSION,
        body=CreateUserRequest(
            identity=UserIdentity(
                email="Py.Client@Example.com",
                first_name="Py",
                last_name="Client",
                role_name="student",
            ),
            external_references=[reference],
        ),
    )
    check(
        user.status_code == 201 and user.parsed.email == "py.client@example.com",
        "createUser",
    )

    invitation = create_invitation.sync_detailed(
        client=client,
        x_api_version=VERSION,
        body=CreateInvitationRequest(
            external_references=[ExternalReference(namespace="LMS", external_id="PY-2")],
            email="invitee@example.com",
            identity=InvitationIdentity(first_name="In", last_name="Vitee"),
        ),
    )
    check(
        invitation.status_code == 201
        and invitation.parsed.invitation.status == "pending",
        "createInvitation",
    )

    document = submit_document.sync_detailed(
        client=client,
        x_api_version=VERSION,
        body=SubmitDocumentRequest(
            external_reference=reference,
            document_type="OFFICIAL_TRANSCRIPT",
            file="JVBERi0xLjQK",
            filename="transcript.pdf",
            verification_intent=VerificationIntent.STORE_ONLY,
        ),
    )
    check(
        document.status_code == 201
        and document.parsed.document.mime_type == "application/pdf"
        and document.parsed.document.size_bytes == 9,
        "submitDocument",
    )

    batch = submit_document_batch.sync_detailed(
        client=client,
        x_api_version=VERSION,
        body=SubmitDocumentBatchRequest(
            items=[
                SubmitDocumentBatchItem(
                    item_id=item_id,
                    external_reference=ExternalReference(namespace="SIS", external_id=ext),
                    document_type="DIPLOMA",
                    file="JVBERi0xLjQK",
                )
                for item_id, ext in [("a", "PY-1"), ("b", "NOBODY")]
            ]
        ),
    )
    parsed = batch.parsed
    check(
        batch.status_code == 200
        and [r.status.value for r in parsed.results] == ["created", "failed"]
        and parsed.results[1].error.code == ErrorCode.NOT_FOUND
        and (parsed.summary.succeeded, parsed.summary.failed) == (1, 1),
        "submitDocumentBatch (one item created, one failed)",
    )

    # Error path: a repeated email is a typed 409 CONFLICT carrying the existing user's id.
    again = create_user.sync_detailed(
        client=client,
        x_api_version=VERSION,
        body=CreateUserRequest(
            identity=UserIdentity(
                email="py.client@example.com",
                first_name="Py",
                last_name="Again",
                role_name="student",
            ),
            external_references=[ExternalReference(namespace="SIS", external_id="PY-3")],
        ),
    )
    check(
        again.status_code == 409
        and isinstance(again.parsed, ErrorResponse)
        and again.parsed.error.code == ErrorCode.CONFLICT
        and again.parsed.error.details.user_id == user.parsed.user_id,
        "createUser with a taken email: 409 CONFLICT as a typed ErrorResponse",
    )
    print("generated python client: 6 operations and 1 error path passed")


if __name__ == "__main__":
    main(sys.argv[1])
