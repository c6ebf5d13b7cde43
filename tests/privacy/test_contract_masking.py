"""mask_json: declared keys masked by kind, free text by detection, credentials and ids untouched, idempotent."""

from __future__ import annotations

from kefu.privacy.contract import mask_contact, mask_json, output_kinds


def test_declared_keys_are_masked_by_kind() -> None:
    kinds = output_kinds()
    assert kinds["complainant_name"] == "name" and kinds["recipient"] == "contact"
    out = mask_json(
        {
            "complainant_name": "林美華",
            "complainant_contact": "0933222111",
            "recipient": "U4af4980629abcdef0123456789abcdef",
            "customer_email": "meihua.lin@example.com",
            "description": "身分證 A123456789，卡號 4111 1111 1111 1111",
            "items": [{"body": "電話 09 12 34 56 78"}],
        }
    )
    assert out["complainant_name"] == "林○華"
    assert out["complainant_contact"] == "0933***111"
    assert out["recipient"].startswith("U4af") and "0629" not in out["recipient"]
    assert out["customer_email"] == "m***@example.com"
    assert "A123456789" not in out["description"] and "1111 1111 1111 1111" not in out["description"]
    assert "3456" not in out["items"][0]["body"]


def test_ids_times_tokens_and_masked_values_are_kept() -> None:
    doc = {
        "id": 912345678,
        "created_at": "2026-12-06T00:42:54+00:00",
        "csrf_token": "0912345678abcdef",
        "status": "open",
        "phone": "0912-***-678",
        "name": "王○明",
    }
    assert mask_json(doc) == doc
    assert mask_json(mask_json({"phone": "0912345678"})) == {"phone": "0912***678"}


def test_mask_contact_guesses_the_kind() -> None:
    assert mask_contact("a.b@example.com") == "a***@example.com"
    assert mask_contact("+886 912 345 678").endswith("678") and "345" not in mask_contact("+886 912 345 678")
    assert mask_contact("PSID12345678901") != "PSID12345678901"
