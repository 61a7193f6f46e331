"""待确认充值 in real headless Chromium against `dms serve --demo`: a card terminal (paired over
HTTP) asks for a top-up of the card it read; the cashier sees it on the top-up requests page,
confirms the money received (choosing the method actually received and a slip number) and the
card's balance goes up by the amount and its bonus, once. A second request appears by itself
(the pending list refreshes every few seconds) and the cashier cancels it with a reason.
Screenshots in target/browser/.

Usage: top_up_requests.py BASE_URL
"""

import json
import secrets
import sys
import urllib.request
import uuid

from selenium.webdriver.support.ui import Select

from common import PASSWORD, chromium, css, go, login, nav_labels, set_input, shot, wait_for

BASE = sys.argv[1]
CARD = "88012026000001"  # demo member: 金卡 (gold), HT01


def api(method, path, token=None, data=None, headers=None):
    req = urllib.request.Request(BASE + "/api/v1" + path, method=method)
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    raw = None
    if data is not None:
        raw = json.dumps(data).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, raw) as r:
        text = r.read()
        return json.loads(text) if text else None


def token(username):
    return api("POST", "/auth/login", data={"username": username, "password": PASSWORD})["access_token"]


def kiosk_of(manager, store_id):
    """Registers and pairs a terminal: its access token."""
    pairing = api("POST", "/devices", manager, {"store_id": store_id, "name": "浏览器测试前台机"})
    return api("POST", "/auth/device", data={"code": pairing["pairing_code"]})["access_token"]


def ask(kiosk, uid, card_id, amount, method):
    return api("POST", "/kiosk/top-up-requests", kiosk,
               {"card_id": card_id, "amount": amount, "payment_method": method},
               {"X-Card-Uid": uid, "Idempotency-Key": str(uuid.uuid4())})


def row(driver, request_id):
    return css(driver, f"#top-up-requests-table tr[data-request='{request_id}']")


def run():
    manager = token("ht01.manager")
    cashier_token = token("ht01.cashier")
    demo_card = api("GET", f"/cards/lookup?number={CARD}", manager)
    store_id = demo_card["store_id"]
    # A fresh chip card for the demo member, so the balance starts at zero.
    uid = "04" + secrets.token_hex(6).upper()
    card = api("POST", "/cards", cashier_token, {"member_id": demo_card["member_id"], "chip_uid": uid})
    kiosk = kiosk_of(manager, store_id)
    first = ask(kiosk, uid, card["id"], "1000.00", "bank_card")
    assert first["status"] == "pending" and first["expected_bonus"] == "100.00", first

    driver = chromium()
    try:
        login(driver, BASE, "ht01.cashier")
        assert "待确认充值" in nav_labels(driver), nav_labels(driver)
        go(driver, BASE, "/top-up-requests")
        wait_for(driver, lambda: row(driver, first["id"]), "the kiosk's request in the list")
        text = row(driver, first["id"])[0].text
        for expected in ["¥1000.00", "¥100.00", "银行卡", "浏览器测试前台机", "待确认"]:
            assert expected in text, f"the row lacks {expected!r}: {text!r}"
        shot(driver, "70-top-up-requests")

        # 确认收款: the member paid cash after all; the slip number is kept.
        row(driver, first["id"])[0].find_element("css selector", "[data-action=confirm-receipt]").click()
        wait_for(driver, lambda: css(driver, ".modal #received-method"), "the confirmation dialog")
        dialog = css(driver, ".modal")[0].text
        assert "1000.00" in dialog and "100.00" in dialog, dialog
        assert Select(css(driver, "#received-method")[0]).first_selected_option.get_attribute("value") \
            == "bank_card", "the requested method is the default"
        Select(css(driver, "#received-method")[0]).select_by_value("cash")
        set_input(css(driver, "#slip-reference")[0], "CASH-0001")
        shot(driver, "71-top-up-confirm")
        confirm = css(driver, ".modal [data-confirm=yes]")[0]
        confirm.click()
        wait_for(driver, lambda: css(driver, "#top-up-notice"), "the top-up result")
        assert "1000.00" in css(driver, "#top-up-notice")[0].text, css(driver, "#top-up-notice")[0].text
        wait_for(driver, lambda: not row(driver, first["id"]), "the request gone from the pending list")
        shot(driver, "72-top-up-confirmed")

        after = api("GET", f"/cards/{card['id']}", cashier_token)
        assert after["principal"] == "1000.00" and after["bonus"] == "100.00", after
        done = api("GET", f"/kiosk/top-up-requests/{first['id']}", kiosk)
        assert done["status"] == "confirmed", done
        assert done["received_method"] == "cash" and done["reference"] == "CASH-0001", done
        assert done["top_up"]["principal_after"] == "1000.00", done

        # The history tab shows it, with who confirmed it.
        css(driver, ".tabs [data-status=confirmed]")[0].click()
        wait_for(driver, lambda: row(driver, first["id"]), "the confirmed request in the history")
        assert "ht01.cashier" in row(driver, first["id"])[0].text

        # A second request shows up by itself on the pending tab; the cashier cancels it.
        css(driver, ".tabs [data-status=pending]")[0].click()
        second = ask(kiosk, uid, card["id"], "500.00", "cash")
        wait_for(driver, lambda: row(driver, second["id"]), "the new request (auto-refresh)", timeout=15)
        row(driver, second["id"])[0].find_element("css selector", "[data-action=cancel-request]").click()
        wait_for(driver, lambda: css(driver, "#cancel-request-form"), "the cancel dialog")
        css(driver, "#cancel-request-form button[type=submit]")[0].click()
        wait_for(driver, lambda: css(driver, "#cancel-request-form .field-error"),
                 "the reason is required")
        set_input(css(driver, "#cancel-reason")[0], "会员改用线上支付")
        css(driver, "#cancel-request-form button[type=submit]")[0].click()
        wait_for(driver, lambda: not css(driver, "#cancel-request-form"), "the dialog closed")
        wait_for(driver, lambda: not row(driver, second["id"]), "the cancelled request gone")
        cancelled = api("GET", f"/kiosk/top-up-requests/{second['id']}", kiosk)
        assert cancelled["status"] == "cancelled", cancelled
        assert cancelled["cancel_reason"] == "会员改用线上支付", cancelled
        after = api("GET", f"/cards/{card['id']}", cashier_token)
        assert after["balance"] == "1100.00", f"nothing more moved: {after}"
        shot(driver, "73-top-up-cancelled")
        print("top-up requests: confirmed once (1000.00 + 100.00 bonus), cancelled one with a reason")
    finally:
        driver.quit()


if __name__ == "__main__":
    run()
