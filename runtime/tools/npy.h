/* Reading and writing NumPy .npy files (format versions 1.0, 2.0, 3.0; little-endian, C order)
 * with the runtime's dtype codes. Used by pkt_runner for --input and --output-dir. */
#ifndef PKT_TOOLS_NPY_H
#define PKT_TOOLS_NPY_H

#include <stddef.h>
#include <stdint.h>

#define PKT_NPY_MAX_RANK 32

typedef struct pkt_npy {
  int dtype; /* pkt_dtype code */
  int rank;
  int64_t dims[PKT_NPY_MAX_RANK];
  void* data;
  size_t nbytes;
} pkt_npy;

/* 0 on success; otherwise -1 and a sentence in err. out->data is malloc'ed (free with pkt_npy_free). */
int pkt_npy_read(const char* path, pkt_npy* out, char* err, size_t err_size);
/* Parse .npy bytes already in memory (data is copied). */
int pkt_npy_parse(const uint8_t* bytes, size_t size, pkt_npy* out, char* err, size_t err_size);
void pkt_npy_free(pkt_npy* npy);

int pkt_npy_write(const char* path, int dtype, int rank, const int64_t* dims, const void* data, size_t nbytes,
                  char* err, size_t err_size);

/* numpy's descr for a dtype code ("<f4", "|b1", ...), NULL for unknown. */
const char* pkt_npy_descr(int dtype);

#endif
