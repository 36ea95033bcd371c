#include "kernel-hz.h"

#include <sys/utsname.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace droptrace {

namespace {

// gzopen reads a plain file as it is, so one reader serves both places.
uint32_t HzIn(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "r");
  if (f == nullptr) return 0;
  static const char kKey[] = "CONFIG_HZ=";
  char line[256];
  uint32_t hz = 0;
  while (gzgets(f, line, sizeof(line)) != nullptr) {
    if (std::strncmp(line, kKey, sizeof(kKey) - 1) == 0) {
      hz = static_cast<uint32_t>(std::strtoul(line + sizeof(kKey) - 1, nullptr, 10));
      break;
    }
  }
  gzclose(f);
  return hz;
}

}  // namespace

uint32_t KernelHz() {
  struct utsname u;
  if (uname(&u) == 0) {
    uint32_t hz = HzIn(std::string("/boot/config-") + u.release);
    if (hz != 0) return hz;
  }
  return HzIn("/proc/config.gz");
}

}  // namespace droptrace
