/* Levelled logging to stderr (journald picks it up). Never pass secrets. */
#ifndef C2S_LOG_H
#define C2S_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *role, enum log_level level);
void log_set_level(enum log_level level);
/* Parses "error|warn|info|debug"; returns -1 when unknown. */
int log_level_parse(const char *s);
void log_msg(enum log_level lvl, const char *file, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __FILE__, __func__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __FILE__, __func__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __FILE__, __func__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __FILE__, __func__, __VA_ARGS__)

#endif
