"""The CRM desks and the reports in real headless Chromium against `dms serve --demo`:

- customer service (ht01.cs): today's call queue, a call's outcome in two clicks (reached; a
  refusal with its reason), the task leaves the queue and the API has the outcome; a complaint
  resolved and confirmed by the customer;
- sales (ht01.sales): the leads board by grade, the overdue follow-ups highlighted (the same
  ones the API calls overdue), a contact logged with a new grade;
- the customer 360 page (vehicles, open items, timeline); a new customer sharing a car's VIN is
  warned about as a likely duplicate, created anyway, then merged by a manager after a
  confirmation naming both records;
- reports (ht01.manager): the charts have drawn content (bars / lines inside the SVG), and the
  XLSX export downloads a real XLSX (zip signature, checked on the downloaded file);
- the same pages at tablet width.
Screenshots in target/browser/.

Usage: crm.py BASE_URL
"""

import json
import os
import sys
import tempfile
import time
import urllib.request

from selenium.webdriver.support.ui import Select

from common import PASSWORD, body, chromium, css, go, login, nav_labels, set_input, shot, wait_for

BASE = sys.argv[1]


def api(method, path, token=None, data=None):
    req = urllib.request.Request(BASE + "/api/v1" + path, method=method)
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    raw = None
    if data is not None:
        raw = json.dumps(data).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, raw) as r:
        text = r.read()
        return json.loads(text) if text else None


def token(username):
    return api("POST", "/auth/login", data={"username": username, "password": PASSWORD})["access_token"]


def today_queue(driver):
    return css(driver, "#task-queue li.task")


def stores_day():
    """Today in the stores' calendar (Beijing)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def calls_for_today(cs):
    """Two calls due today for ht01.cs (the demo's own depend on the day), about a customer
    with a car. Returns that customer's id."""
    me = api("GET", "/me", cs)
    store = next(s["id"] for s in me["stores"] if s["code"] == "HT01")
    known = [t for t in api("GET", "/tasks?limit=50", cs)["items"] if t.get("customer_id")]
    customer = known[0]["customer_id"] if known else api("GET", "/customers?limit=1", cs)["items"][0]["id"]
    for title in ["回访：保养后满意度 京A·10000", "回访：会员续费意向"]:
        api("POST", "/tasks", cs, {"store_id": store, "customer_id": customer, "title": title,
                                   "due_on": stores_day(), "assigned_to": me["id"]})
    return customer


def customer_service(driver):
    cs = token("ht01.cs")
    customer = calls_for_today(cs)
    login(driver, BASE, "ht01.cs")
    labels = nav_labels(driver)
    assert "今日回访" in labels and "投诉" in labels, labels
    assert "线索看板" not in labels and "报表" not in labels, labels
    go(driver, BASE, "/tasks")
    wait_for(driver, lambda: today_queue(driver), "today's call queue")
    shot(driver, "60-tasks-queue")
    before = len(today_queue(driver))
    assert before >= 2, f"the demo has follow-up calls for today, found {before}"

    # Two clicks: the outcome, then its confirmation.
    first = today_queue(driver)[0]
    task_id = first.get_attribute("data-task")
    first.find_element("css selector", "button[data-outcome=reached]").click()
    wait_for(driver, lambda: css(driver, f"li[data-task='{task_id}'] .confirm-outcome"), "the confirmation")
    shot(driver, "61-tasks-outcome-picked")
    css(driver, f"li[data-task='{task_id}'] .confirm-outcome")[0].click()
    wait_for(driver, lambda: not css(driver, f"#task-queue li[data-task='{task_id}']"), "the call leaving the queue")
    wait_for(driver, lambda: css(driver, f"#tasks-done li[data-task='{task_id}']"), "the call under done today")
    assert "已联系" in css(driver, "#tasks-done")[0].text
    assert len(today_queue(driver)) == before - 1

    # A refusal: the outcome, then the reason (again two clicks).
    second = today_queue(driver)[0]
    refused_id = second.get_attribute("data-task")
    second.find_element("css selector", "button[data-outcome=refused]").click()
    wait_for(driver, lambda: css(driver, f"li[data-task='{refused_id}'] button[data-reason=too_far]"), "the reasons")
    css(driver, f"li[data-task='{refused_id}'] button[data-reason=too_far]")[0].click()
    wait_for(driver, lambda: not css(driver, f"#task-queue li[data-task='{refused_id}']"), "the refusal leaving the queue")
    shot(driver, "62-tasks-after-calls")

    # The API has both outcomes.
    done = {t["id"]: t for t in api("GET", "/tasks?status=done&mine=true&limit=200", cs)["items"]}
    assert done[task_id]["outcome"] == "reached", done.get(task_id)
    assert done[refused_id]["outcome"] == "refused" and done[refused_id]["refusal_reason"] == "too_far", done.get(refused_id)
    open_ids = {t["id"] for t in api("GET", "/tasks?mine=true&limit=200", cs)["items"]}
    assert task_id not in open_ids and refused_id not in open_ids

    # Complaints: resolve the demo complaint, then the customer confirms.
    go(driver, BASE, "/complaints")
    wait_for(driver, lambda: css(driver, "#complaints-table tbody tr"), "the complaints")
    shot(driver, "63-complaints")
    row = css(driver, "#complaints-table tbody tr")[0]
    complaint_id = row.get_attribute("data-complaint")
    # Give it to a colleague of the store: the dialog lists the store's customer-service people.
    row.find_element("css selector", "button[data-action=assign]").click()
    wait_for(driver, lambda: css(driver, ".modal select#assignee option"), "the store's people")
    options = css(driver, ".modal select#assignee option")
    chosen = options[-1].get_attribute("value")
    Select(css(driver, ".modal select#assignee")[0]).select_by_value(chosen)
    shot(driver, "63a-complaint-assign")
    css(driver, ".modal [data-confirm=yes]")[0].click()
    wait_for(driver, lambda: not css(driver, ".modal"), "the complaint assigned")
    assert api("GET", f"/complaints/{complaint_id}", cs)["assigned_to"] == chosen
    row = css(driver, f"tr[data-complaint='{complaint_id}']")[0]
    row.find_element("css selector", "button[data-action=resolve]").click()
    wait_for(driver, lambda: css(driver, "#resolve-form textarea"), "the resolution form")
    css(driver, "#resolve-form button[type=submit]")[0].click()
    wait_for(driver, lambda: css(driver, "#resolve-form .field-error"), "the resolution is required")
    css(driver, "#resolve-form textarea")[0].send_keys("致电道歉，赠送一次免费洗车，已调整预约排班")
    css(driver, "#resolve-form button[type=submit]")[0].click()
    wait_for(driver, lambda: not css(driver, "#resolve-form"), "the complaint resolved")
    css(driver, ".tabs button")[1].click()  # 待客户确认
    wait_for(driver, lambda: css(driver, f"tr[data-complaint='{complaint_id}'] button[data-action=satisfied]"), "the resolved complaint")
    css(driver, f"tr[data-complaint='{complaint_id}'] button[data-action=satisfied]")[0].click()
    wait_for(driver, lambda: css(driver, ".modal [data-confirm=yes]"), "the confirmation")
    css(driver, ".modal [data-confirm=yes]")[0].click()
    wait_for(driver, lambda: not css(driver, ".modal"), "the complaint closed")
    assert api("GET", f"/complaints/{complaint_id}", cs)["status"] == "closed"
    return customer


def leads(driver):
    login(driver, BASE, "ht01.sales")
    assert "线索看板" in nav_labels(driver), nav_labels(driver)
    go(driver, BASE, "/leads")
    wait_for(driver, lambda: css(driver, "#lead-board li.lead"), "the leads board")
    sales = token("ht01.sales")
    overdue_api = {l["id"] for l in api("GET", "/leads?overdue=true&limit=200", sales)["items"]}
    assert overdue_api, "the demo has overdue leads"
    overdue_page = {e.get_attribute("data-lead") for e in css(driver, "#lead-board li.lead.overdue")}
    assert overdue_page == overdue_api, (overdue_page, overdue_api)
    colour = css(driver, "#lead-board li.lead.overdue")[0].value_of_css_property("border-left-color")
    assert colour.startswith("rgba(180, 35, 24") or colour.startswith("rgb(180, 35, 24"), colour
    for grade in "HABC":
        assert css(driver, f".lead-column[data-grade={grade}]"), grade
    shot(driver, "64-leads-board")

    # Log a contact and raise the grade with it.
    card = css(driver, ".lead-column[data-grade=B] li.lead")[0]
    lead_id = card.get_attribute("data-lead")
    card.find_element("css selector", "button[data-action=contact]").click()
    wait_for(driver, lambda: css(driver, "#lead-contact"), "the contact form")
    css(driver, "#lead-contact button[type=submit]")[0].click()
    wait_for(driver, lambda: css(driver, "#lead-contact .field-error"), "the note is required")
    css(driver, "#contact-note")[0].send_keys("客户周六来店试驾，预算已确认")
    Select(css(driver, "#contact-grade")[0]).select_by_value("A")
    shot(driver, "65-leads-contact")
    css(driver, "#lead-contact button[type=submit]")[0].click()
    wait_for(driver, lambda: css(driver, f".lead-column[data-grade=A] li[data-lead='{lead_id}']"), "the lead under A")
    assert api("GET", f"/leads/{lead_id}", sales)["grade"] == "A"

    # Only overdue.
    css(driver, "#only-overdue")[0].click()
    wait_for(driver, lambda: len(css(driver, "#lead-board li.lead")) == len(overdue_api), "only the overdue leads")


def customer_360(driver, customer_id):
    login(driver, BASE, "ht01.advisor")
    go(driver, BASE, f"/customers/{customer_id}")
    wait_for(driver, lambda: css(driver, "#customer-vehicles"), "the customer 360 page")
    text = body(driver)
    for expected in ["车辆", "待办", "客户动态"]:
        assert expected in text, expected
    assert css(driver, "#customer-vehicles tbody tr"), "the customer's cars"
    assert css(driver, "#customer-timeline .event"), "the timeline"
    shot(driver, "66-customer-360")

    # A new record with the same car: warned, created anyway after a look.
    adv = token("ht01.advisor")
    vin = api("GET", f"/customers/{customer_id}/360", adv)["vehicles"][0]["vin"]
    name = api("GET", f"/customers/{customer_id}", adv)["name"]
    go(driver, BASE, "/customers")
    wait_for(driver, lambda: css(driver, "#new-customer"), "the customers page")
    css(driver, "#new-customer")[0].click()
    set_input(css(driver, "#customer-name")[0], name + "（重复）")
    set_input(css(driver, "#customer-phone")[0], "13977001234")
    set_input(css(driver, "#customer-vin")[0], vin)
    css(driver, "#customer-form button[type=submit]")[0].click()
    wait_for(driver, lambda: css(driver, "#duplicate-warning"), "the duplicate warning")
    assert name in css(driver, "#duplicate-warning")[0].text
    shot(driver, "67-customer-duplicate")
    css(driver, "#create-anyway")[0].click()
    wait_for(driver, lambda: css(driver, "#customer-detail") and "13977001234" in body(driver), "the new customer")
    twin_id = driver.current_url.rsplit("/", 1)[1]

    # A manager merges the twin into the original, after a confirmation naming both.
    login(driver, BASE, "ht01.manager")
    go(driver, BASE, f"/customers/{customer_id}")
    wait_for(driver, lambda: css(driver, "#merge-q"), "the merge card")
    css(driver, "#merge-q")[0].send_keys("13977001234")
    wait_for(driver, lambda: css(driver, "#merge-card .pick-list button"), "the twin found")
    css(driver, "#merge-card .pick-list button")[0].click()
    wait_for(driver, lambda: css(driver, ".modal"), "the merge confirmation")
    dialog = css(driver, ".modal")[0].text
    assert name in dialog and "（重复）" in dialog, dialog
    shot(driver, "68-customer-merge")
    css(driver, ".modal [data-confirm=yes]")[0].click()
    wait_for(driver, lambda: not css(driver, ".modal"), "the merge done")
    assert api("GET", f"/customers/{twin_id}", token("ht01.manager")).get("status") in ("merged", None)


def discount_override(driver):
    """A manager prices a basket with a discount override (checked before sending, then
    applied by the server); the cashier's checkout has no such field."""
    login(driver, BASE, "ht01.manager")
    card = api("GET", "/cards/lookup?number=88012026000001", token("ht01.manager"))
    go(driver, BASE, f"/checkout/{card['id']}")
    wait_for(driver, lambda: css(driver, "#basket-form #override-percent"), "the override field")
    row = css(driver, ".basket-line")[0]
    Select(row.find_element("css selector", ".line-category")).select_by_value("labour")
    set_input(row.find_element("css selector", ".line-description"), "四轮定位工时")
    set_input(row.find_element("css selector", ".line-price"), "300")
    set_input(css(driver, "#override-percent")[0], "20")
    css(driver, "#quote")[0].click()
    wait_for(driver, lambda: "改价须填写原因" in body(driver), "the reason is required")
    set_input(css(driver, "#override-reason")[0], "老客户关怀，店长批准")
    css(driver, "#quote")[0].click()
    wait_for(driver, lambda: css(driver, "#member-pays"), "the priced basket")
    pays = float(css(driver, "#member-pays")[0].text.replace("¥", "").replace(",", ""))
    assert abs(pays - 240.0) < 0.01, f"20% off 300 is 240, got {pays}"
    shot(driver, "75-checkout-override")
    login(driver, BASE, "ht01.cashier")
    go(driver, BASE, f"/checkout/{card['id']}")
    wait_for(driver, lambda: css(driver, "#basket-form"), "the cashier's checkout")
    assert not css(driver, "#override-percent"), "a cashier cannot override the discount"


def reports(download_dir):
    driver = chromium(download_dir=download_dir)
    try:
        login(driver, BASE, "ht01.manager")
        assert "报表" in nav_labels(driver), nav_labels(driver)
        go(driver, BASE, "/reports")
        wait_for(driver, lambda: css(driver, "#chart-money svg"), "the money chart")
        wait_for(driver, lambda: css(driver, "#chart-grades svg, #chart-grades .empty-state"), "the CRM charts")
        # Drawn content, not an empty frame: the line and bars are in the SVG.
        assert css(driver, "#chart-money svg polyline"), "the money line"
        bars = driver.execute_script(
            "return document.querySelectorAll('#chart-counts svg rect').length")
        assert bars > 3, f"bars drawn: {bars}"
        assert css(driver, "#chart-grades svg rect"), "lead conversion bars"
        width = driver.execute_script(
            "return document.querySelector('#chart-money svg').getBoundingClientRect().width")
        assert width > 300, width
        shot(driver, "69-reports")
        driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        time.sleep(0.2)
        shot(driver, "70-reports-crm")
        driver.execute_script("window.scrollTo(0, 0)")

        # Filters: month, then a bad period is refused before sending.
        Select(css(driver, "#report-grain")[0]).select_by_value("month")
        css(driver, "#report-apply")[0].click()
        wait_for(driver, lambda: css(driver, "#chart-money svg"), "the chart by month")

        # The export: the browser downloads a real XLSX.
        css(driver, "#export-membership")[0].click()
        wait_for(driver, lambda: css(driver, "#export-status[data-bytes]"), "the export", timeout=20)
        size = int(css(driver, "#export-status")[0].get_attribute("data-bytes"))
        deadline = time.time() + 15
        files = []
        while time.time() < deadline:
            files = [f for f in os.listdir(download_dir) if f.endswith(".xlsx")]
            if files:
                break
            time.sleep(0.2)
        assert files, f"no file in {download_dir}: {os.listdir(download_dir)}"
        path = os.path.join(download_dir, files[0])
        with open(path, "rb") as f:
            data = f.read()
        assert data[:4] == b"PK\x03\x04", data[:8]
        assert b"xl/workbook.xml" in data, "an XLSX workbook inside the zip"
        assert len(data) == size, (len(data), size)
        print(f"membership export: {files[0]}, {size} bytes")
        shot(driver, "71-reports-exported")

        set_input(css(driver, "#report-to")[0], "2020-01-01")
        css(driver, "#report-apply")[0].click()
        wait_for(driver, lambda: css(driver, "[data-field=to] .field-error"), "the bad period refused")
    finally:
        driver.quit()


def tablet(customer_id):
    driver = chromium(width=820, height=1180)
    try:
        login(driver, BASE, "ht01.manager")
        go(driver, BASE, "/leads")
        wait_for(driver, lambda: css(driver, "#lead-board li.lead"), "the leads board on a tablet")
        shot(driver, "72-tablet-leads")
        go(driver, BASE, "/reports")
        wait_for(driver, lambda: css(driver, "#chart-money svg"), "the reports on a tablet")
        shot(driver, "73-tablet-reports")
        go(driver, BASE, f"/customers/{customer_id}")
        wait_for(driver, lambda: css(driver, "#customer-vehicles"), "the 360 page on a tablet")
        shot(driver, "74-tablet-customer-360")
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"the page scrolls sideways by {overflow}px"
    finally:
        driver.quit()


def run():
    driver = chromium()
    try:
        customer_id = customer_service(driver)
        leads(driver)
        customer_360(driver, customer_id)
        discount_override(driver)
    finally:
        driver.quit()
    with tempfile.TemporaryDirectory() as downloads:
        reports(downloads)
    tablet(customer_id)
    print("crm: calls, leads, complaints, customer 360, duplicates and merge, reports and export ok")


if __name__ == "__main__":
    run()
