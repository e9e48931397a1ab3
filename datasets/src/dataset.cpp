#include "qat/dataset.h"
