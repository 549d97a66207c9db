// pcre2.h needs the code unit width before it is included; Fanzha matches UTF-8.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
