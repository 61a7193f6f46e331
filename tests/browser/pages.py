"""The staff pages in real headless Chromium against `dms serve --demo`: navigation per role
(cashier, store manager, technician, group admin), the store switcher (persisted across a
reload and narrowing the lists), stores / staff / audit log / customers pages, a staff creation
whose server-side error (username taken) shows beside the field, a confirmed disable, a
customer created and opened, the language switch, and the tablet width. Screenshots in
target/browser/.

Usage: pages.py BASE_URL
"""

import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from common import (body, button, chromium, css, go, login, nav_labels, set_input, shot,
                    wait_for)

BASE = sys.argv[1]


def check_nav(driver, username, expected, absent):
    login(driver, BASE, username)
    labels = nav_labels(driver)
    for label in expected:
        assert label in labels, f"{username} should see {label!r} in {labels}"
    for label in absent:
        assert label not in labels, f"{username} must not see {label!r} in {labels}"
    return labels


def run():
    driver = chromium()
    try:
        # --- navigation per role ---
        labels = check_nav(driver, "ht01.cashier", ["首页", "客户", "门店"], ["员工", "审计日志"])
        assert not css(driver, "#store-switcher"), "a one-store cashier has no store switcher"
        shot(driver, "10-cashier-nav")
        # A page the role lacks answers "no access" even when typed in the address bar.
        go(driver, BASE, "/staff")
        wait_for(driver, lambda: "没有访问此页面的权限" in body(driver), "no access for the cashier")
        shot(driver, "11-cashier-no-access")

        check_nav(driver, "ht01.tech", ["首页", "门店"], ["员工", "客户", "审计日志"])
        shot(driver, "12-tech-nav")

        labels = check_nav(driver, "ht01.manager", ["首页", "客户", "员工", "门店", "审计日志"], [])
        print("manager nav:", labels)

        # --- stores (manager: read only) ---
        go(driver, BASE, "/stores")
        wait_for(driver, lambda: css(driver, "#stores-table tbody tr"), "the stores table")
        assert not css(driver, "#new-store"), "a store manager cannot add stores"
        assert "海淀" not in body(driver), "a store manager sees only her store"

        # --- staff: list, then a creation refused by the server, the error beside the field ---
        go(driver, BASE, "/staff")
        wait_for(driver, lambda: css(driver, "#staff-table tbody tr"), "the staff table")
        shot(driver, "13-staff-list")
        css(driver, "#new-staff")[0].click()
        wait_for(driver, lambda: css(driver, "#staff-form"), "the new-staff form")
        # Local check first: nothing filled.
        css(driver, "#staff-form button[type=submit]")[0].click()
        wait_for(driver, lambda: css(driver, "#staff-form [data-field=username] .field-error"),
                 "the local required errors")
        assert css(driver, "#staff-form [data-field=password] .field-error")
        shot(driver, "14-staff-form-local-errors")
        set_input(css(driver, "#staff-username")[0], "ht01.cashier")  # taken
        set_input(css(driver, "#staff-display-name")[0], "重名测试")
        set_input(css(driver, "#staff-password")[0], "Secret@2026")
        Select(css(driver, "#role-0")[0]).select_by_value("cashier")
        css(driver, "#staff-form button[type=submit]")[0].click()
        wait_for(driver, lambda: "已被占用" in css(driver, "#staff-form [data-field=username]")[0].text,
                 "the server's 'username taken' beside the username field")
        assert not css(driver, "#staff-form [data-field=password] .field-error")
        shot(driver, "15-staff-username-taken")
        # Fix the name: created, listed.
        set_input(css(driver, "#staff-username")[0], "ht01.newcashier")
        css(driver, "#staff-form button[type=submit]")[0].click()
        wait_for(driver, lambda: "员工已创建" in body(driver), "the created notice")
        wait_for(driver, lambda: css(driver, "tr[data-username='ht01.newcashier']"),
                 "the new user in the list")
        shot(driver, "16-staff-created")

        # Disable asks first; cancel keeps the user, confirm disables.
        row = css(driver, "tr[data-username='ht01.newcashier']")[0]
        row.find_element(By.XPATH, ".//button[normalize-space()='停用']").click()
        wait_for(driver, lambda: css(driver, ".modal[role=alertdialog]"), "the confirmation dialog")
        shot(driver, "17-confirm-disable")
        button(driver, "取消").click()
        wait_for(driver, lambda: not css(driver, ".modal"), "the dialog closed")
        row = css(driver, "tr[data-username='ht01.newcashier']")[0]
        assert "正常" in row.text
        row.find_element(By.XPATH, ".//button[normalize-space()='停用']").click()
        wait_for(driver, lambda: css(driver, ".modal [data-confirm=yes]"), "the dialog again")
        css(driver, ".modal [data-confirm=yes]")[0].click()
        wait_for(driver, lambda: "员工已停用" in body(driver), "the disabled notice")
        wait_for(driver, lambda: "已停用" in css(driver, "tr[data-username='ht01.newcashier']")[0].text,
                 "the row shows disabled")

        # Reset password: validated locally, then confirmed.
        row = css(driver, "tr[data-username='ht01.newcashier']")[0]
        row.find_element(By.XPATH, ".//button[normalize-space()='重置密码']").click()
        wait_for(driver, lambda: css(driver, "#password-form"), "the password form")
        set_input(css(driver, "#reset-password")[0], "short")
        css(driver, "#password-form button[type=submit]")[0].click()
        wait_for(driver, lambda: "至少 8 个字符" in css(driver, "#password-form .field-error")[0].text,
                 "the short password refused locally")
        set_input(css(driver, "#reset-password")[0], "Another@2026")
        css(driver, "#password-form button[type=submit]")[0].click()
        wait_for(driver, lambda: css(driver, ".modal [data-confirm=yes]"), "the reset confirmation")
        css(driver, ".modal [data-confirm=yes]")[0].click()
        wait_for(driver, lambda: "密码已重置" in body(driver), "the reset notice")

        # --- audit log shows what just happened, and filters ---
        go(driver, BASE, "/audit")
        wait_for(driver, lambda: css(driver, "#audit-table tbody tr"), "the audit log")
        assert "staff.create" in body(driver), "the staff creation is in the audit log"
        Select(css(driver, "#audit-entity")[0]).select_by_value("staff_user")
        css(driver, "#audit-filter button[type=submit]")[0].click()
        time.sleep(0.5)
        wait_for(driver, lambda: css(driver, "#audit-table tbody tr"), "the filtered audit log")
        entities = {r.find_elements(By.TAG_NAME, "td")[4].get_attribute("data-entity")
                    for r in css(driver, "#audit-table tbody tr")}
        assert entities == {"staff_user"}, f"filter by entity: {entities}"
        shot(driver, "18-audit-filtered")

        # --- customers: create (local phone check, then saved) and open ---
        go(driver, BASE, "/customers")
        wait_for(driver, lambda: css(driver, "#customers-table tbody tr"), "the customers table")
        shot(driver, "19-customers")
        css(driver, "#new-customer")[0].click()
        set_input(css(driver, "#customer-name")[0], "测试客户")
        set_input(css(driver, "#customer-phone")[0], "12345")
        css(driver, "#customer-form button[type=submit]")[0].click()
        wait_for(driver, lambda: "11 位手机号" in body(driver), "the phone check")
        set_input(css(driver, "#customer-phone")[0], "13912345678")
        css(driver, "#customer-form button[type=submit]")[0].click()
        wait_for(driver, lambda: css(driver, "#customer-detail"), "the new customer's page")
        assert "测试客户" in body(driver) and "13912345678" in body(driver)
        shot(driver, "20-customer-detail")
        # The new customer joins the club and gets a card (asked first), landing on the member.
        wait_for(driver, lambda: css(driver, "#join"), "the join form")
        css(driver, "#join")[0].click()
        wait_for(driver, lambda: css(driver, ".modal [data-confirm=yes]"), "the join question")
        css(driver, ".modal [data-confirm=yes]")[0].click()
        wait_for(driver, lambda: css(driver, "#cards-table tbody tr"), "the new member's page")
        assert "测试客户" in body(driver) and "¥0.00" in body(driver)
        shot(driver, "20b-new-member")
        # The customer sets a PIN at the desk: checked before sending, never shown.
        css(driver, "#cards-table .set-pin")[0].click()
        wait_for(driver, lambda: css(driver, "#pin-form"), "the PIN form")
        assert all(i.get_attribute("type") == "password" for i in css(driver, "#pin-form input"))
        set_input(css(driver, "#pin-new")[0], "246810")
        set_input(css(driver, "#pin-again")[0], "246811")
        css(driver, "#pin-form button[type=submit]")[0].click()
        wait_for(driver, lambda: "两次输入不一致" in css(driver, "#pin-form")[0].text, "the mismatch")
        set_input(css(driver, "#pin-again")[0], "246810")
        css(driver, "#pin-form button[type=submit]")[0].click()
        wait_for(driver, lambda: css(driver, "#pin-saved"), "the PIN saved")
        assert "246810" not in driver.page_source, "the PIN is not left in the page"
        # Changing it with a wrong current PIN is refused by the server, shown in the form.
        css(driver, "#cards-table .set-pin")[0].click()
        set_input(css(driver, "#pin-old")[0], "000000")
        set_input(css(driver, "#pin-new")[0], "135790")
        set_input(css(driver, "#pin-again")[0], "135790")
        css(driver, "#pin-form button[type=submit]")[0].click()
        wait_for(driver, lambda: "卡密码错误" in css(driver, "#pin-form")[0].text, "the wrong current PIN refused")
        shot(driver, "20c-pin-refused")
        css(driver, "#pin-form button[type=button]")[0].click()
        # Replace the card (asked first), then return the new one with a reason.
        css(driver, "#cards-table .replace-card")[0].click()
        css(driver, "#card-op-form button[type=submit]")[0].click()
        wait_for(driver, lambda: css(driver, ".modal [data-confirm=yes]"), "the replace question")
        css(driver, ".modal [data-confirm=yes]")[0].click()
        wait_for(driver, lambda: css(driver, "#card-op-done"), "the card replaced")
        wait_for(driver, lambda: "已换卡" in css(driver, "#cards-table")[0].text, "the old card marked replaced")
        shot(driver, "20d-card-replaced")
        css(driver, "#cards-table .return-card")[0].click()
        css(driver, "#card-op-form button[type=submit]")[0].click()
        wait_for(driver, lambda: css(driver, "#card-op-form .field-error"), "the reason required")
        set_input(css(driver, "#op-reason")[0], "客户不再使用")
        css(driver, "#card-op-form button[type=submit]")[0].click()
        wait_for(driver, lambda: css(driver, ".modal [data-confirm=yes]"), "the return question")
        css(driver, ".modal [data-confirm=yes]")[0].click()
        wait_for(driver, lambda: "已退卡，退款金额" in body(driver), "the card returned")
        wait_for(driver, lambda: "已退卡" in css(driver, "#cards-table")[0].text, "the card shown closed")
        assert not css(driver, "#open-checkout"), "no card left to check out with"
        shot(driver, "20e-card-returned")

        # --- group admin: the store switcher, persisted and applied ---
        login(driver, BASE, "admin")
        assert css(driver, "#store-switcher"), "a group admin has the store switcher"
        go(driver, BASE, "/stores")
        wait_for(driver, lambda: len(css(driver, "#stores-table tbody tr")) >= 2, "both stores")
        assert css(driver, "#new-store"), "a group admin can add stores"
        shot(driver, "21-admin-stores")
        go(driver, BASE, "/customers")
        wait_for(driver, lambda: css(driver, "#customers-table tbody tr"), "all customers")
        all_rows = len(css(driver, "#customers-table tbody tr"))
        switcher = Select(css(driver, "#store-switcher")[0])
        haidian = [o.get_attribute("value") for o in switcher.options if "海淀" in o.text][0]
        switcher.select_by_value(haidian)
        wait_for(driver, lambda: all("海淀" in r.text or "Haidian" in r.text
                                     for r in css(driver, "#customers-table tbody tr"))
                 or css(driver, ".empty-state"), "only Haidian customers")
        narrowed = len(css(driver, "#customers-table tbody tr"))
        assert narrowed < all_rows, f"the switcher narrows the list ({narrowed} of {all_rows})"
        shot(driver, "22-admin-customers-haidian")
        driver.refresh()
        wait_for(driver, lambda: css(driver, "#store-switcher"), "the shell after a reload")
        assert Select(css(driver, "#store-switcher")[0]).first_selected_option.get_attribute(
            "value") == haidian, "the store choice survives a reload"
        # A new customer defaults to the chosen store.
        wait_for(driver, lambda: css(driver, "#new-customer"), "the new-customer button")
        css(driver, "#new-customer")[0].click()
        assert Select(css(driver, "#customer-store")[0]).first_selected_option.get_attribute(
            "value") == haidian
        button(driver, "取消").click()

        # --- language switch ---
        button(driver, "English").click()
        wait_for(driver, lambda: "Customers" in nav_labels(driver), "English navigation")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert "All stores" in css(driver, "#store-switcher")[0].text
        shot(driver, "23-admin-customers-en")
        go(driver, BASE, "/staff")
        wait_for(driver, lambda: css(driver, "#staff-table tbody tr"), "staff in English")
        assert "Change roles" in body(driver)
        shot(driver, "24-admin-staff-en")
        button(driver, "中文").click()
        wait_for(driver, lambda: "员工" in nav_labels(driver), "Chinese again")
        Select(css(driver, "#store-switcher")[0]).select_by_value("")
    finally:
        driver.quit()

    # --- tablet width (a service advisor's tablet, ~820 px) ---
    driver = chromium(820, 1180)
    try:
        login(driver, BASE, "ht01.manager")
        go(driver, BASE, "/staff")
        wait_for(driver, lambda: css(driver, "#staff-table tbody tr"), "staff on a tablet")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 820, f"no sideways scrolling of the page at 820 px (scrollWidth {width})"
        shot(driver, "25-tablet-staff")
        go(driver, BASE, "/customers")
        wait_for(driver, lambda: css(driver, "#customers-table tbody tr"), "customers on a tablet")
        shot(driver, "26-tablet-customers")
    finally:
        driver.quit()
    print("browser pages test passed")


if __name__ == "__main__":
    run()
