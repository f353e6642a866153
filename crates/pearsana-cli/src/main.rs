mod import;
fn main() {}
