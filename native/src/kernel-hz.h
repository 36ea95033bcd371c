// The running kernel's tick rate (CONFIG_HZ), from its build configuration.
#pragma once

#include <cstdint>

namespace droptrace {

// CONFIG_HZ from /boot/config-<release>, else /proc/config.gz (CONFIG_IKCONFIG_PROC); 0 when
// neither says (a container without /boot, a kernel built without it).
uint32_t KernelHz();

}  // namespace droptrace
