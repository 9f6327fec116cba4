/* The delegate backends compiled into this build (core/backend.h). A backend is added by its own sources
 * (backends/<name>/, listed in runtime/manifest.py BACKENDS), which define `const pkt_backend pkt_backend_<name>`,
 * and one entry here under its define PKT_WITH_BACKEND_<NAME>, which a build sets when it compiles the backend in.
 * Nothing else in the runtime names a backend: the loader and the session find them only through pkt_backend_find. */
#include <string.h>

#include "core/backend.h"

#ifdef PKT_WITH_BACKEND_VULKAN
extern const pkt_backend pkt_backend_vulkan;
#endif
/* A test-only backend (tests/fixtures/elementwise_backend.c), compiled only into test builds. */
#ifdef PKT_WITH_BACKEND_TEST_ELEMENTWISE
extern const pkt_backend pkt_backend_test_elementwise;
#endif

static const pkt_backend* const registered[] = {
#ifdef PKT_WITH_BACKEND_VULKAN
    &pkt_backend_vulkan,
#endif
#ifdef PKT_WITH_BACKEND_TEST_ELEMENTWISE
    &pkt_backend_test_elementwise,
#endif
    NULL,
};

const pkt_backend* pkt_backend_find(const char* name) {
  if (!name) return NULL;
  for (int i = 0; registered[i]; i++)
    if (strcmp(registered[i]->name, name) == 0) return registered[i];
  return NULL;
}
