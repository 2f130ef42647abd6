"""Drives the web page in headless Chromium: picks the first model, types a prime, presses Generate,
waits for the streamed text to finish and saves a screenshot. Exits non-zero when the page shows an
error or no text arrives."""
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main(url, prime, screenshot):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=900,1500"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 30)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
        prime_box = driver.find_element(By.ID, "prime")
        prime_box.clear()
        prime_box.send_keys(prime)
        length = driver.find_element(By.ID, "length")
        length.clear()
        length.send_keys("400")
        seed = driver.find_element(By.ID, "seed")
        seed.send_keys("7")
        top_p = driver.find_element(By.ID, "topp")  # nucleus sampling goes through the page too
        top_p.clear()
        top_p.send_keys("0.9")
        started = time.time()
        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: "characters in" in d.find_element(By.ID, "gen-status").text
                   or d.find_element(By.ID, "error").is_displayed())
        error = driver.find_element(By.ID, "error")
        if error.is_displayed():
            print("the page shows an error:", error.text, file=sys.stderr)
            return 1
        output = driver.find_element(By.ID, "output").text
        status = driver.find_element(By.ID, "gen-status").text
        if len(output) <= len(prime):
            print("no text arrived", file=sys.stderr)
            return 1
        item = driver.find_elements(By.ID, "item")
        if item and item[0].is_displayed():
            item[0].send_keys("Dovesky")
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#bars .bar"))
        driver.save_screenshot(screenshot)
        print(f"generated {len(output) - len(prime)} characters in {time.time() - started:.1f} s; status: {status}")
        print(f"screenshot: {screenshot}")
        return 0
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))
