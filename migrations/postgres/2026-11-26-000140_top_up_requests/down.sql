DROP TABLE mem_top_up_requests;
