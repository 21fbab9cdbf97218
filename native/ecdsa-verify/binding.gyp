{
  "targets": [
    {
      "target_name": "certyard_ecdsa",
      "sources": ["verify.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-Wno-deprecated-declarations"]
    }
  ]
}
