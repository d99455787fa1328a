// A cleanup (no breaker) through `&mut self`: the body's own loops keep their `break` and
// `continue`, a labeled `break` its label, a `let … else` its `return`, a closure its `?`.
#[s3_operation(class = "cleanup", op = "delete_objects", bucket = self.bucket)]
async fn purge(&mut self, prefix: &str) -> Result<usize, S3Error> {
    let mut deleted = 0;
    let parse = |text: &str| -> Result<u32, std::num::ParseIntError> { Ok(text.parse::<u32>()? + 1) };
    'pages: loop {
        let Some(page) = self.pages.pop() else {
            return Ok(deleted);
        };
        for key in page {
            if !key.starts_with(prefix) {
                continue;
            }
            if key.ends_with(".keep") {
                break 'pages;
            }
            self.delete(&key).await?.len();
            deleted += parse("1").unwrap_or(0) as usize;
        }
        match self.pages.len() {
            0 => break,
            n if n > 10 => return Err(S3Error::service("TooMany", None)),
            _ => {}
        }
    }
    Ok(deleted)
}
