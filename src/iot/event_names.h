/* event_names.h — private to src/iot: the static reason-name strings. */
#ifndef ST_IOT_EVENT_NAMES_H
#define ST_IOT_EVENT_NAMES_H

#include "iot/event.h"

/* Known sensor types (others are allowed, see event.h rule 8). */
typedef enum iot_kind { IOT_KIND_OTHER = 0, IOT_KIND_TEMPERATURE, IOT_KIND_HUMIDITY, IOT_KIND_CO2 } iot_kind;

/* "missing_field:<f>", "wrong_type:<f>", "invalid_field:<f>" for field f. */
const char *iot_name_field_reason(iot_reason r, iot_field f);
/* "impossible_value:<type>" (kind, or battery_pct when battery) and "unit_mismatch:<type>". */
const char *iot_name_impossible(iot_kind k, int battery);
const char *iot_name_unit_mismatch(iot_kind k);

#endif
