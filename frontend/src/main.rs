fn main() {
    dms_frontend::run();
}
