/*
 * List Blobs answers (XML) as the blob sink reads them: the names of blobs or virtual folders and
 * the next page's marker.
 */
#include <stdlib.h>
#include <string.h>

#include "blob_sink.h"
#include "common.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *xml = fuzz_text(data, size), **names = NULL;
    size_t count = 0, cap = 0, i;
    int folders;

    for (folders = 0; folders < 2; folders++) {
        _ccopy_blob_xml_collect(xml, folders ? "BlobPrefix" : "Blob", "Name", &names, &count, &cap);
        for (i = 0; i < count; i++)
            FUZZ_CHECK(strlen(names[i]) <= size, "a name longer than the answer");
        _ccopy_names_free(names, count);
        names = NULL;
        count = cap = 0;
    }
    free(xml);
    return 0;
}
