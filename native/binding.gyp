{
  "targets": [
    {
      "target_name": "seqtag_kernels",
      "sources": ["kernels.cc"],
      "cflags_cc!": ["-O2", "-O3"],
      "cflags_cc": ["-O3", "-march=native", "-ffp-contract=fast", "-fno-math-errno", "-std=c++17", "-Wno-cast-function-type", "-Wno-unknown-pragmas"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-march=native", "-ffp-contract=fast", "-fno-math-errno", "-std=c++17"]
      }
    }
  ]
}
