// the attribute goes on functions only
use s3_ops_runtime::s3_operation;

#[s3_operation(class = "upload", op = "put_object")]
struct Upload {
    key: String,
}

fn main() {
    let upload = Upload { key: String::new() };
    drop(upload.key);
}
