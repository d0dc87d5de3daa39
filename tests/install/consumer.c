/* A C service linking the installed libcosmocopy: plans a day in 4h windows and reads a version. */
#include <stdio.h>
#include <string.h>

#include <cosmocopy/cosmocopy.h>

int main(void)
{
    ccopy_window_t *windows = NULL;
    size_t count = 0;
    ccopy_error_t error;
    int rc;

    ccopy_init();
    rc = ccopy_plan_cut(&windows, &count, 1767225600, 1767225600 + 86400, 4 * 3600, &error);
    if (rc != 0) {
        fprintf(stderr, "plan failed: %s\n", error.message);
        return 1;
    }
    printf("cosmocopy %s: %zu windows\n", ccopy_version(), count);
    ccopy_free(windows);
    ccopy_cleanup();
    return count == 6 && strlen(ccopy_version()) > 0 ? 0 : 1;
}
