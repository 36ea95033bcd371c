{
  "targets": [
    {
      "target_name": "droptrace",
      "sources": [
        "<!@(node -p \"require('./native/sources.json').map((s) => 'native/' + s).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "bpf",
        "bpf/.output"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "libraries": ["<!@(pkg-config --libs libbpf zlib)"]
    }
  ]
}
