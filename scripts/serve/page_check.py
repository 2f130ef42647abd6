"""Drives the web page in headless Chromium, as a user would, at a desktop and a phone width: waits for
the example primes the model suggests and takes one, asks for two samples, checks that they arrive in
their own boxes with copy buttons, the model list's bits per character, greedy decoding, and (with a
classifier) a name's bars and an error shown beside the box with no earlier result left under it.
Saves desktop.png and phone.png in OUT_DIR. Exits non-zero at the first thing that is not so."""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def fail(message):
    print("page check failed:", message, file=sys.stderr)
    sys.exit(1)


def set_value(driver, element_id, value):
    box = driver.find_element(By.ID, element_id)
    box.clear()
    box.send_keys(value)


def generate_and_wait(driver, wait, samples):
    driver.find_element(By.ID, "generate").click()
    wait.until(lambda d: "error" in d.find_element(By.ID, "gen-status").get_attribute("class")
               or len([m for m in d.find_elements(By.CSS_SELECTOR, "#output .sample .meta") if m.text]) == samples)
    status = driver.find_element(By.ID, "gen-status")
    if "error" in status.get_attribute("class"):
        fail("generation: " + status.text)
    # The prime and the text of each sample, without its button and its line of timings.
    return driver.execute_script(
        "return [...document.querySelectorAll('#output .sample')].map(b => b.childNodes[1].textContent + b.childNodes[2].data)")


def check(driver, url, out_dir, width, height, name):
    driver.set_window_size(width, height)
    driver.get(url)
    wait = WebDriverWait(driver, 60)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
    model = driver.find_element(By.CSS_SELECTOR, "#model option").text
    if "bits/char" not in model or "perplexity" not in model:
        fail("the model list does not give bits/char and perplexity: " + model)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#examples .chip"))
    chips = driver.find_elements(By.CSS_SELECTOR, "#examples .chip")
    chips[0].click()
    prime = driver.find_element(By.ID, "prime").get_attribute("value")
    if not prime.strip():
        fail("an example chip did not fill the prime")
    set_value(driver, "length", "160")
    set_value(driver, "count", "2")
    set_value(driver, "seed", "7")
    set_value(driver, "topp", "0.9")
    texts = generate_and_wait(driver, wait, 2)
    if len(texts) != 2 or any(len(t) <= len(prime) for t in texts) or texts[0] == texts[1]:
        fail(f"two different samples expected, got {texts!r}")
    if len(driver.find_elements(By.CSS_SELECTOR, "#output .sample .copy")) != 2:
        fail("a copy button per sample expected")
    if width > 520 and "Enter" not in driver.find_element(By.ID, "shortcut").text:
        fail("the keyboard shortcut is not shown")
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        fail(f"{name}: the page is {overflow} px wider than the window")
    driver.save_screenshot(os.path.join(out_dir, name + ".png"))

    set_value(driver, "count", "1")
    driver.find_element(By.ID, "greedy").click()
    greedy = generate_and_wait(driver, wait, 1)
    again = generate_and_wait(driver, wait, 1)
    if greedy != again:
        fail("greedy decoding gave two different texts")
    driver.find_element(By.ID, "greedy").click()

    item = driver.find_elements(By.ID, "item")
    if item and item[0].is_displayed():
        item[0].send_keys("Dovesky")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#bars .bar"))
        item[0].clear()
        item[0].send_keys("\u738b\u5c0f\u660e")  # characters a Latin-script classifier never saw
        wait.until(lambda d: "error" in d.find_element(By.ID, "cls-status").get_attribute("class"))
        if driver.find_elements(By.CSS_SELECTOR, "#bars .bar"):
            fail("the previous name's result is still shown under an error")
        if driver.find_element(By.ID, "error").is_displayed():
            fail("the classification error is shown at the top of the page, away from its box")
        print(f"{name}: classifier error beside its box: {driver.find_element(By.ID, 'cls-status').text}")
        item[0].clear()
        item[0].send_keys("Dovesky")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#bars .bar"))
        driver.execute_script("document.getElementById('classify-section').scrollIntoView()")
        driver.save_screenshot(os.path.join(out_dir, name + "-classify.png"))
    print(f"{name} ({width}x{height}): prime {prime!r} from an example; two samples, greedy twice the same; "
          f"screenshots in {out_dir}")


def main(url, out_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        started = time.time()
        check(driver, url, out_dir, 1280, 1100, "desktop")
        # A phone: Chrome's device metrics, so that the page's own viewport rule applies.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
        check(driver, url, out_dir, 390, 844, "phone")
        print(f"page check passed in {time.time() - started:.1f} s")
        return 0
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
