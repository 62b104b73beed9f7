/* main.c: callhook's entry point (being written). */
#include <stdio.h>
int main(void) { return 0; }
