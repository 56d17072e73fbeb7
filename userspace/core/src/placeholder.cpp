int synwarden_core_placeholder() { return 0; }
