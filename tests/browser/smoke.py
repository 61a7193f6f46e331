"""The web app in real headless Chromium against a real `dms serve` (demo data): the login page
renders in Chinese, a wrong password shows an error, a cashier logs in and sees her roles, store
and permissions, the language switches to English and back, and logout returns to the login
page. Screenshots of each step go to target/browser/ for a person to look at.

Run by scripts/browser-test.sh, which installs Chromium, ChromeDriver and selenium and starts the
server. Usage: smoke.py BASE_URL
"""

import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

BASE = sys.argv[1]
SHOTS = os.path.join("target", "browser")
os.makedirs(SHOTS, exist_ok=True)


def wait_for(driver, predicate, what, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except Exception:  # the page is still rendering
            pass
        time.sleep(0.05)
    driver.save_screenshot(os.path.join(SHOTS, "failure.png"))
    raise AssertionError(f"timed out waiting for {what}; page text: {body(driver)[:500]!r}")


def body(driver):
    return driver.find_element(By.TAG_NAME, "body").text


def shot(driver, name):
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


options = webdriver.ChromeOptions()
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,768"]:
    options.add_argument(arg)
options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")),
                          options=options)
try:
    started = time.time()
    driver.get(BASE + "/")
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "input[type=password]"),
             "the login form")
    print(f"login form interactive after {time.time() - started:.2f}s")
    assert "经销商管理系统" in body(driver), "the app speaks Chinese by default"
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    shot(driver, "01-login")

    user = driver.find_element(By.CSS_SELECTOR, "input[name=username]")
    password = driver.find_element(By.CSS_SELECTOR, "input[type=password]")
    user.send_keys("ht01.cashier")
    password.send_keys("wrong-password")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, ".alert.error"),
             "the wrong-password message")
    shot(driver, "02-wrong-password")

    password.clear()
    password.send_keys("Demo@2026")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda: "欢迎" in body(driver), "the home page")
    text = body(driver)
    for expected in ["收银员", "华通丰田4S店（朝阳）", "会员充值", "退出登录"]:
        assert expected in text, f"home page lacks {expected!r}: {text[:500]!r}"
    assert "海淀" not in text, "a store cashier sees only her store"
    shot(driver, "03-home-zh")

    driver.find_element(By.XPATH, "//button[normalize-space()='English']").click()
    wait_for(driver, lambda: "Welcome" in body(driver), "the English home page")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    shot(driver, "04-home-en")

    # The session and the language survive a reload.
    driver.refresh()
    wait_for(driver, lambda: "Welcome" in body(driver), "the home page after a reload")
    driver.find_element(By.XPATH, "//button[normalize-space()='中文']").click()
    wait_for(driver, lambda: "欢迎" in body(driver), "Chinese again")

    driver.find_element(By.XPATH, "//button[normalize-space()='退出登录']").click()
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "input[type=password]"),
             "the login page after logout")
    shot(driver, "05-logged-out")
    print("browser smoke test passed; screenshots in", SHOTS)
finally:
    driver.quit()
