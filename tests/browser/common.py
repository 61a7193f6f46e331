"""Shared helpers for the browser tests: a headless Chromium, waits, screenshots, sign-in."""

import os
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

SHOTS = os.path.join("target", "browser")
os.makedirs(SHOTS, exist_ok=True)
PASSWORD = "Demo@2026"


def chromium(width=1366, height=768, download_dir=None):
    options = webdriver.ChromeOptions()
    if download_dir:
        options.add_experimental_option("prefs", {
            "download.default_directory": download_dir,
            "download.prompt_for_download": False,
        })
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu",
                f"--window-size={width},{height}", "--lang=zh-CN"]:
        options.add_argument(arg)
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    # The browser runs in the stores' time zone, so "today" on the page is the stores' day.
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"),
                      env={**os.environ, "TZ": os.environ.get("DMS_BROWSER_TZ", "Asia/Shanghai")})
    driver = webdriver.Chrome(service=service, options=options)
    if download_dir:
        driver.execute_cdp_cmd("Page.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": download_dir})
    return driver


def body(driver):
    return driver.find_element(By.TAG_NAME, "body").text


def shot(driver, name):
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def wait_for(driver, predicate, what, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except Exception:  # the page is still rendering
            pass
        time.sleep(0.05)
    shot(driver, "failure-" + "".join(c if c.isalnum() else "-" for c in what)[:40])
    raise AssertionError(f"timed out waiting for {what}; page text: {body(driver)[:600]!r}")


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def button(driver, label):
    return driver.find_element(By.XPATH, f"//button[normalize-space()='{label}']")


def fresh(driver, base):
    """A clean start: no stored session, language or store."""
    driver.get(base + "/")
    driver.execute_script("window.localStorage.clear(); window.location.hash = '#/';")
    driver.refresh()
    wait_for(driver, lambda: css(driver, "input[type=password]"), "the login form")


def login(driver, base, username, password=PASSWORD):
    fresh(driver, base)
    css(driver, "input[name=username]")[0].send_keys(username)
    css(driver, "input[type=password]")[0].send_keys(password)
    css(driver, "button[type=submit]")[0].click()
    wait_for(driver, lambda: css(driver, "nav.sidenav"), f"the shell for {username}")


def nav_labels(driver):
    return [a.text.strip() for a in css(driver, "nav.sidenav a.navlink")]


def go(driver, base, hash_path):
    driver.get(f"{base}/#{hash_path}")


def set_input(element, value):
    element.clear()
    element.send_keys(value)
