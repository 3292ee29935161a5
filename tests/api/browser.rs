//! A small stand-in for a browser on the web pages: it keeps cookies, never follows redirects
//! (so tests see them), and finds the CSRF token in a page.

use std::collections::HashMap;

use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};

use crate::helpers::{TestApp, enc};

/// One visitor's cookies and client.
pub struct Browser {
    pub base: String,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

/// A page as the test read it: status, headers and HTML.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    /// Where a redirect points.
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `Set-Cookie` line for `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|line| line.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }

    /// The value of the page's first `csrf` field.
    pub fn csrf(&self) -> String {
        attribute_after(&self.html, "name=\"csrf\" value=\"").expect("the page has a CSRF field")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// The text between `marker` and the next `"`.
pub fn attribute_after(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base: app.address.clone(),
            client,
            cookies: HashMap::new(),
        }
    }

    /// Signed in as the administrator, on no page in particular.
    pub async fn signed_in(app: &TestApp) -> Self {
        Self::signed_in_as(app, &app.admin_email, &app.admin_password).await
    }

    /// Signed in with this email and password, on no page in particular.
    pub async fn signed_in_as(app: &TestApp, email: &str, password: &str) -> Self {
        let mut browser = Self::new(app);
        let login = browser.get("/login").await;
        let done = browser
            .post(
                "/login",
                &[
                    ("email", email),
                    ("password", password),
                    ("csrf", &login.csrf()),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        browser
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Posts a form, fields in order, as a browser encodes it.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// A request with this browser's cookies, for what `get` and `post` do not cover.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Reads a response, keeping the cookies it sets (and dropping those it clears).
    pub async fn read(&mut self, response: Response) -> Page {
        for line in response.headers().get_all(SET_COOKIE) {
            let line = line.to_str().unwrap();
            let (pair, _) = line.split_once(';').unwrap_or((line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || line.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            html: response.text().await.unwrap(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
