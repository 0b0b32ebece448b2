"""GET /docs in a real browser (Debian's chromium, driven by python3-selenium through chromium-driver):
open Swagger UI, authorize with a bearer token, reload (the token persists), run "Try it out" on the
documents list with a filter and a sort, and see the 200 answer rendered.  Saves a screenshot to
build/docs-browser.png.  Skipped, saying why, only when chromium cannot start."""
import json
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "api"))

import fm  # noqa: E402

selenium = pytest.importorskip("selenium", reason="python3-selenium is not installed")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

SHOT = os.path.join(fm.REPO, "build", "docs-browser.png")


@pytest.fixture
def server(tmp_path):
    s = fm.Server(fm.new_db_url(tmp_path), tmp_path, node_id="browser").start()
    yield s
    s.terminate()


@pytest.fixture
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not chromium or not os.path.exists(driver_bin):
        msg = "chromium or chromedriver not installed (apt-get install chromium chromium-driver)"
        print("SKIP browser test:", msg)
        pytest.skip(msg)
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1400,2200", "--user-data-dir=" + tempfile.mkdtemp(prefix="chromium-")):
        opts.add_argument(a)
    try:
        d = webdriver.Chrome(service=Service(driver_bin), options=opts)
    except WebDriverException as e:
        msg = "chromium cannot start: %s" % (e.msg or e).__str__().splitlines()[0]
        print("SKIP browser test:", msg)
        pytest.skip(msg)
    d.set_page_load_timeout(30)
    yield d
    d.quit()


def wait(d, cond, t=30):
    try:
        return WebDriverWait(d, t).until(cond)
    except Exception:
        os.makedirs(os.path.dirname(SHOT), exist_ok=True)
        d.save_screenshot(SHOT.replace(".png", "-failed.png"))
        with open(SHOT.replace(".png", "-failed.html"), "w") as f:
            f.write(d.page_source)
        raise


def css(sel):
    return (By.CSS_SELECTOR, sel)


def test_swagger_ui_try_it_out_on_a_document_list(server, browser):
    admin = server.admin()
    ws = admin.post("/workspaces", {"name": "Browser HQ"}).json["workspace_id"]
    made = {}
    for name, size, status in (("a.pdf", 10, "failed"), ("b.pdf", 30, "failed"), ("c.pdf", 20, "queued")):
        r = admin.post("/workspaces/%s/documents" % ws, {"original_filename": name, "byte_size": size,
                                                        "status": status})
        assert r.status == 201, r
        made[name] = r.json["document_id"]
    d = browser
    base = "http://127.0.0.1:%d" % server.port

    # 1. open /docs: Swagger UI renders the document
    d.get(base + "/docs")
    wait(d, EC.text_to_be_present_in_element(css(".swagger-ui .info .title"), "FireMode API"))

    # 2. authorize with the bearer token
    d.find_element(*css(".swagger-ui .auth-wrapper button.authorize")).click()
    field = wait(d, EC.visibility_of_element_located(css(".modal-ux input")))
    field.send_keys(server.admin_token)
    d.find_element(*css(".modal-ux .auth-btn-wrapper button.authorize")).click()
    wait(d, EC.visibility_of_element_located(css(".modal-ux button.btn-done"))).click()

    # 3. reload: the token is kept (persistAuthorization)
    d.refresh()
    wait(d, EC.text_to_be_present_in_element(css(".swagger-ui .info .title"), "FireMode API"))
    stored = d.execute_script("return window.localStorage.getItem('authorized')")
    assert stored and server.admin_token in stored, stored

    # 4. Try it out: GET /workspaces/{workspace_id}/documents?status_in=failed&sort=-byte_size
    op = wait(d, EC.presence_of_element_located(css("#operations-documents-list_documents")))
    d.execute_script("arguments[0].scrollIntoView()", op)
    op.find_element(*css(".opblock-summary")).click()
    wait(d, EC.element_to_be_clickable(css("#operations-documents-list_documents .try-out__btn"))).click()
    row = "#operations-documents-list_documents tr[data-param-name='%s'] "
    wait(d, EC.visibility_of_element_located(css(row % "workspace_id" + "input"))).send_keys(ws)
    sort = d.find_element(*css(row % "sort" + "input"))
    sort.clear()  # Swagger UI fills in the documented example
    sort.send_keys("-byte_size")
    Select(d.find_element(*css(row % "status_in" + "select"))).select_by_visible_text("failed")
    d.find_element(*css("#operations-documents-list_documents button.execute")).click()

    # 5. the 200 answer is rendered, with the two failed documents, larger first
    status = "#operations-documents-list_documents .live-responses-table .response .response-col_status"
    wait(d, EC.text_to_be_present_in_element(css(status), "200"))
    url = d.find_element(*css("#operations-documents-list_documents .request-url pre")).text
    assert "status_in=failed" in url and "sort=-byte_size" in url, url
    body = d.find_element(*css("#operations-documents-list_documents .live-responses-table "
                               ".response-col_description pre")).text
    items = json.loads(body)["items"]
    assert [it["document_id"] for it in items] == [made["b.pdf"], made["a.pdf"]], body
    d.execute_script("arguments[0].scrollIntoView()",
                     d.find_element(*css("#operations-documents-list_documents .responses-wrapper")))
    os.makedirs(os.path.dirname(SHOT), exist_ok=True)
    d.save_screenshot(SHOT)
    print("browser: screenshot saved to %s" % os.path.relpath(SHOT, fm.REPO))
